//! `devstack dev --runtime kubernetes` on the harness's real kubelet node: a tiny app built
//! from a Dockerfile (FROM the local redis image) with a sync; `devstack dev --load node`
//! applies it, fills the sync `emptyDir` through exec, then an edit on the host is visible in
//! the pod (`kubectl exec cat`) within 1 s (p50/p90 of 20 edits printed), a delete
//! propagates, an ignored file is not sent; `restart: true` replaces the pod and refills it; a
//! changed lock file in the build context rebuilds, re-applies and refills.
//!
//! Needs the real node and the Docker engine with the redis image (`e2e/docker.sh up`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devstack_e2e::kubectl::Kubectl;
use devstack_e2e::TestNamespace;
use k8s_openapi::api::core::v1::Pod;

use crate::{install_crd, shared, Operator};

/// `devstack dev` as a child, its standard error collected (shown when a check fails).
struct Dev {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Dev {
    fn start(file: &Path, namespace: &str) -> Dev {
        let mut child = Command::new(devstack_e2e::bin::devstack())
            .env("DOCKER_HOST", devstack_e2e::docker_host())
            .env("KUBECONFIG", devstack_e2e::kubeconfig_source().unwrap())
            .args(["dev", file.to_str().unwrap(), "--runtime", "kubernetes"])
            .args(["--load", "node", "--namespace", namespace])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Dev { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `want`.
    fn wait_log(&mut self, want: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.log().contains(want) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("devstack dev exited ({status}):\n{}", self.log());
            }
            assert!(start.elapsed() < timeout, "no {want:?} in:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `script` in the pod until its output is `want`; the time it took.
fn wait_exec(k: &Kubectl, ns: &str, pod: &str, script: &str, want: &str, dev: &Dev) -> Duration {
    let start = Instant::now();
    loop {
        let out = k.exec(ns, pod, script).unwrap();
        if out.out() == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{script} in {pod}: {out}, want {want:?}\n{}",
            dev.log()
        );
    }
}

/// The running, not terminating pod of `service`, once there is one other than `not`.
async fn pod_of(pods: &kube::Api<Pod>, service: &str, not: Option<&str>, dev: &Dev) -> String {
    let start = Instant::now();
    loop {
        let params =
            kube::api::ListParams::default().labels(&format!("devstack.dev/service={service}"));
        let list = pods.list(&params).await.unwrap();
        let found = list.items.iter().find_map(|p| {
            let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            let name = p.metadata.name.clone()?;
            (running && p.metadata.deletion_timestamp.is_none() && Some(name.as_str()) != not)
                .then_some(name)
        });
        if let Some(name) = found {
            return name;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "no new running {service} pod\n{}",
            dev.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test]
async fn devstack_dev_syncs_edits_deletes_and_not_ignored_files_into_the_pod() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::new("op-devsync").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let base = devstack_e2e::local_image("redis").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app/src")).unwrap();
    std::fs::write(
        d.join("app/Dockerfile"),
        format!("FROM {base}\nUSER root\nCMD [\"sh\", \"-c\", \"sleep 100000\"]\n"),
    )
    .unwrap();
    std::fs::write(d.join("app/src/msg.txt"), "v0\n").unwrap();
    std::fs::write(d.join("app/src/old.txt"), "old\n").unwrap();
    // The worker builds from its own context: a shared context would make every edit of
    // app/src (synced for app, plain context for a worker without that sync) a rebuild.
    std::fs::create_dir_all(d.join("worker/conf")).unwrap();
    std::fs::copy(d.join("app/Dockerfile"), d.join("worker/Dockerfile")).unwrap();
    std::fs::write(d.join("worker/conf/level.txt"), "info\n").unwrap();
    let file = d.join("stack.yaml");
    std::fs::write(
        &file,
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: sync}\nspec:\n  services:\n    app:\n      build: {context: ./app}\n      command: [sh, -c, 'echo hello from $(hostname); sleep 100000']\n      sync: [{source: ./app/src, target: /app/src, ignore: ['*.log']}]\n    worker:\n      build: {context: ./worker}\n      command: [sh, -c, 'sleep 100000']\n      sync: [{source: ./worker/conf, target: /app/conf, restart: true}]\n",
    )
    .unwrap();

    let mut dev = Dev::start(&file, ns.name());
    dev.wait_log("devstack dev: watching", Duration::from_secs(300));
    let pods = ns.api::<Pod>();
    let pod = pod_of(&pods, "app", None, &dev).await;
    let k = Kubectl::new().unwrap();
    let ns_name = ns.name().to_string();
    // The initial upload filled the emptyDir.
    wait_exec(&k, &ns_name, &pod, "cat /app/src/msg.txt", "v0", &dev);

    let mut latencies = Vec::new();
    for i in 1..=20 {
        let written = Instant::now();
        std::fs::write(d.join("app/src/msg.txt"), format!("v{i}\n")).unwrap();
        wait_exec(
            &k,
            &ns_name,
            &pod,
            "cat /app/src/msg.txt",
            &format!("v{i}"),
            &dev,
        );
        latencies.push(written.elapsed());
    }
    latencies.sort();
    let (p50, p90) = (percentile(&latencies, 50), percentile(&latencies, 90));
    println!(
        "kubernetes sync, edit -> visible in the pod (kubectl exec cat), 20 edits: p50 {} ms, p90 {} ms, max {} ms",
        p50.as_millis(),
        p90.as_millis(),
        latencies[latencies.len() - 1].as_millis()
    );
    assert!(p90 <= Duration::from_secs(1), "p90 {p90:?}\n{}", dev.log());

    // A delete propagates; an ignored file is not sent (the file written after it is).
    std::fs::remove_file(d.join("app/src/old.txt")).unwrap();
    std::fs::write(d.join("app/src/debug.log"), "noise\n").unwrap();
    std::fs::write(d.join("app/src/after.txt"), "after\n").unwrap();
    let listing = "ls /app/src | sort | tr '\\n' ' '";
    wait_exec(&k, &ns_name, &pod, listing, "after.txt msg.txt", &dev);
    dev.wait_log("deleted 1", Duration::from_secs(5));
    let log = dev.log();
    assert!(log.contains("app: full upload of 2 files to pod"), "{log}");
    // The pod's own output, followed in the terminal.
    dev.wait_log(&format!("app | hello from {pod}"), Duration::from_secs(10));

    // restart: true replaces the worker's pod; the new one gets the full upload.
    let worker = pod_of(&pods, "worker", None, &dev).await;
    wait_exec(
        &k,
        &ns_name,
        &worker,
        "cat /app/conf/level.txt",
        "info",
        &dev,
    );
    std::fs::write(d.join("worker/conf/level.txt"), "debug\n").unwrap();
    let restarted = pod_of(&pods, "worker", Some(&worker), &dev).await;
    wait_exec(
        &k,
        &ns_name,
        &restarted,
        "cat /app/conf/level.txt",
        "debug",
        &dev,
    );
    dev.wait_log("restarts 1", Duration::from_secs(10));

    // A changed file in the build context outside the syncs (a lock file): rebuilt, loaded,
    // re-applied; the app's new pod runs the new tag with its sync filled again.
    // The new tag (Docker's layer cache may give the same image ID: nothing is copied in).
    let image_of = |pod: &Pod| {
        pod.spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .find_map(|c| c.image.clone())
            .unwrap_or_default()
    };
    let before = image_of(&pods.get(&pod).await.unwrap());
    std::fs::write(d.join("app/requirements.lock"), "redis==5.0.0\n").unwrap();
    dev.wait_log("rebuilds 1", Duration::from_secs(120));
    let rebuilt = pod_of(&pods, "app", Some(&pod), &dev).await;
    wait_exec(&k, &ns_name, &rebuilt, "cat /app/src/msg.txt", "v20", &dev);
    let after = image_of(&pods.get(&rebuilt).await.unwrap());
    assert!(
        !after.is_empty() && after != before,
        "{before} -> {after}\n{}",
        dev.log()
    );
    println!("{}", dev.log());
    drop(dev);
    crate::finish(ns, &mut operator).await.unwrap();
}
