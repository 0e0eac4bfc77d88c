//! `build` and `mounts` on the harness's real kubelet node: a DevStack whose image was never
//! built gets the status "not built — run devstack apply"; `devstack apply --load node` builds
//! the image on the Docker engine, imports it into the node's containerd and applies the stack
//! with the content tag, and the pod runs the image id Docker built; an operator without an
//! allow-list refuses a hostPath mount with a status naming the mount; an allowed read-only
//! mount is readable and read-only in the pod.
//!
//! Needs the real node and the Docker engine with the redis image (`e2e/docker.sh up`).

use std::process::Command;
use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::core::v1::Pod;

use crate::{create, finish, install_crd, shared, stack, wait_for, Operator};

/// The message of service `service` in the status of DevStack `name`, once it contains `want`.
async fn service_message(ns: &TestNamespace, name: &str, want: &str) -> anyhow::Result<String> {
    let api = ns.api::<DevStack>();
    poll_until(
        &format!("status of {name} saying {want:?}"),
        Duration::from_secs(120),
        || {
            let api = api.clone();
            let want = want.to_string();
            async move {
                let stack = api.get(name).await?;
                let status = stack.status.unwrap_or_default();
                let texts: Vec<String> = status
                    .services
                    .values()
                    .filter_map(|s| s.message.clone())
                    .chain(status.conditions.iter().map(|c| c.message.clone()))
                    .collect();
                Ok(texts.into_iter().find(|t| t.contains(&want)))
            }
        },
    )
    .await
}

fn app_dir(base_image: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("app/src")).unwrap();
    std::fs::write(
        d.join("app/Dockerfile"),
        format!("FROM {base_image}\nUSER root\nCOPY src /app/src\nCMD [\"sh\", \"-c\", \"sleep 100000\"]\n"),
    )
    .unwrap();
    std::fs::write(d.join("app/src/msg.txt"), "v1\n").unwrap();
    dir
}

#[tokio::test]
async fn unbuilt_image_is_reported_and_devstack_apply_runs_the_built_image() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::new("op-build").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let base = devstack_e2e::local_image("redis").unwrap();
    let dir = app_dir(&base);
    let body = "  services:\n    app:\n      build: {context: ./app}\n      command: [sh, -c, 'sleep 100000']\n";

    // Applied without devstack apply: the tag is unknown and the node has no such image.
    create(&client, &stack("app", ns.name(), body))
        .await
        .unwrap();
    let message = service_message(&ns, "app", "not built")
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert!(
        message.contains("image app/app:unbuilt not built — run devstack apply"),
        "{message}"
    );

    // devstack apply builds, imports into the node and applies the content tag.
    let file = dir.path().join("stack.yaml");
    std::fs::write(
        &file,
        format!("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: app}}\nspec:\n{body}"),
    )
    .unwrap();
    let docker_host = devstack_e2e::docker_host();
    let out = Command::new(devstack_e2e::bin::devstack())
        .env("DOCKER_HOST", &docker_host)
        .env("KUBECONFIG", devstack_e2e::kubeconfig_source().unwrap())
        .args([
            "apply",
            file.to_str().unwrap(),
            "--load",
            "node",
            "--namespace",
            ns.name(),
        ])
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "devstack apply: {log}");
    wait_for(ns.name(), "app", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{log}\n{}", operator.log()));

    let applied = ns.api::<DevStack>().get("app").await.unwrap();
    let image = applied.spec.services["app"]
        .image
        .clone()
        .unwrap_or_default();
    assert!(
        image.starts_with("app/app:") && !image.ends_with(":unbuilt"),
        "{image}"
    );
    let docker_id = Command::new("docker")
        .env("DOCKER_HOST", &docker_host)
        .args(["image", "inspect", "-f", "{{.Id}}", &image])
        .output()
        .unwrap();
    let docker_id = String::from_utf8_lossy(&docker_id.stdout)
        .trim()
        .to_string();
    let pods = ns.api::<Pod>().list(&Default::default()).await.unwrap();
    let pod_image_ids: Vec<String> = pods
        .items
        .iter()
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| c.image_id.clone())
        .collect();
    println!("docker image id {docker_id}; pod image ids {pod_image_ids:?}");
    assert!(!docker_id.is_empty());
    assert!(
        pod_image_ids.iter().any(|id| id.ends_with(&docker_id)),
        "the pod runs {pod_image_ids:?}, Docker built {docker_id}"
    );
    finish(ns, &mut operator).await.unwrap();
}

#[tokio::test]
async fn operator_without_allow_list_refuses_host_paths() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::new("op-hostpath").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let body = "  services:\n    app:\n      image: busybox:1\n      mounts: [{source: /srv/docs, target: /docs, readOnly: true}]\n";
    create(&client, &stack("docs", ns.name(), body))
        .await
        .unwrap();
    wait_for(ns.name(), "docs", "Stalled", 60)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let message = service_message(&ns, "docs", "refused").await.unwrap();
    assert!(
        message.contains("spec.services.app.mounts[0].source: hostPath /srv/docs refused: this operator allows no host paths"),
        "{message}"
    );
    let deployments = ns
        .api::<k8s_openapi::api::apps::v1::Deployment>()
        .list(&Default::default())
        .await
        .unwrap();
    assert!(deployments.items.is_empty(), "nothing is applied");
    finish(ns, &mut operator).await.unwrap();
}

#[tokio::test]
async fn an_allowed_read_only_mount_is_readable_and_read_only_in_the_pod() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::new("op-mount").await.unwrap();
    // The real node is this host: the pod sees the test's directory at the same path.
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(docs.path().join("readme.txt"), "the docs\n").unwrap();
    // Readable by the container's user (a temp dir is 0700).
    let mut mode = std::fs::metadata(docs.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(docs.path(), mode).unwrap();
    let source = docs.path().canonicalize().unwrap();
    let allowed = source.to_str().unwrap().to_string();
    let mut operator = Operator::start(&[ns.name()], &["--allow-host-path", &allowed]).unwrap();
    let redis = devstack_e2e::local_image("redis").unwrap();
    let body = format!(
        "  services:\n    app:\n      image: {redis}\n      command: [sh, -c, 'sleep 100000']\n      mounts: [{{source: {allowed}, target: /mnt/docs, readOnly: true}}]\n"
    );
    create(&client, &stack("docs", ns.name(), &body))
        .await
        .unwrap();
    wait_for(ns.name(), "docs", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let pods = ns.api::<Pod>().list(&Default::default()).await.unwrap();
    let pod = pods
        .items
        .iter()
        .find(|p| p.metadata.deletion_timestamp.is_none())
        .and_then(|p| p.metadata.name.clone())
        .expect("a pod");
    let kubectl = devstack_e2e::kubectl::Kubectl::new().unwrap();
    let read = kubectl
        .exec(ns.name(), &pod, "cat /mnt/docs/readme.txt")
        .unwrap();
    assert_eq!(read.out(), "the docs", "{read}");
    let write = kubectl
        .exec(
            ns.name(),
            &pod,
            "touch /mnt/docs/new 2>&1 && echo written || echo refused",
        )
        .unwrap();
    assert_eq!(write.out().lines().last(), Some("refused"), "{write}");
    assert!(!source.join("new").exists());
    finish(ns, &mut operator).await.unwrap();
}
