//! `devstack dev --runtime kubernetes` on the harness's real kubelet node: a tiny app built
//! from a Dockerfile (FROM the local redis image) with a sync; `devstack dev --load node`
//! applies it, fills the sync `emptyDir` through exec, then an edit on the host is visible in
//! the pod (`kubectl exec cat`) within 1 s (p50/p90 of 20 edits printed), a delete
//! propagates, an ignored file is not sent.
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

use crate::{install_crd, serial, Operator};

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

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test]
async fn devstack_dev_syncs_edits_deletes_and_not_ignored_files_into_the_pod() {
    let _serial = serial().await;
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
    let file = d.join("stack.yaml");
    std::fs::write(
        &file,
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: sync}\nspec:\n  services:\n    app:\n      build: {context: ./app}\n      command: [sh, -c, 'sleep 100000']\n      sync: [{source: ./app/src, target: /app/src, ignore: ['*.log']}]\n",
    )
    .unwrap();

    let mut dev = Dev::start(&file, ns.name());
    dev.wait_log("devstack dev: watching", Duration::from_secs(300));
    let pods = ns.api::<Pod>().list(&Default::default()).await.unwrap();
    let pod = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .find_map(|p| p.metadata.name.clone())
        .unwrap_or_else(|| panic!("no pod\n{}\n{}", dev.log(), operator.log()));
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
    println!("{log}");
    assert!(log.contains("app: full upload of 2 files to pod"), "{log}");
    drop(dev);
    crate::finish(ns, &mut operator).await.unwrap();
}
