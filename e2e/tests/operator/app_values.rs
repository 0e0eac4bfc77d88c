//! Issue 18 points 3, 4 and 7 through the operator on the real node: the app secret read in the
//! pod equals the credentials Secret, survives a pod restart, and only it changes (the
//! consumer rolls out) when `devstack.dev/rotate` asks; `connectionEnv` hands db's database as
//! DB_NAME; each fan-out replica has its own port and env and is reachable by its own name;
//! live parity against the Kubernetes rendering finds no mismatch.

use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::Api;

use crate::{
    create, credentials, exclusive, finish, install_crd, kubectl, stack, wait_for, Operator,
};

/// The running, non-terminating pod of `service`.
async fn pod_of(pods: &Api<Pod>, service: &str) -> anyhow::Result<Option<String>> {
    let list = pods
        .list(&ListParams::default().labels(&format!("devstack.dev/service={service}")))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .find_map(|p| p.metadata.name))
}

async fn printenv(ns: &str, pod: &str, key: &str) -> String {
    kubectl(&["exec", "-n", ns, pod, "--", "printenv", key])
        .await
        .unwrap_or_else(|e| panic!("printenv {key} in {pod}: {e:#}"))
        .trim()
        .to_string()
}

async fn secret_value(client: &kube::Client, ns: &str, id: &str) -> String {
    let (_, data) = credentials(client, ns, "vals").await.unwrap();
    String::from_utf8(data.get(id).cloned().unwrap_or_default()).unwrap()
}

/// Waits for a running `service` pod other than `old`; its name.
async fn new_pod(pods: &Api<Pod>, service: &str, old: &str) -> String {
    poll_until(
        &format!("a new {service} pod"),
        Duration::from_secs(120),
        || {
            let pods = pods.clone();
            let old = old.to_string();
            let service = service.to_string();
            async move { Ok(pod_of(&pods, &service).await?.filter(|p| *p != old)) }
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn app_secrets_mapped_values_and_fan_out_on_the_real_node() {
    let _exclusive = exclusive().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::new("op-values").await.unwrap();
    let (postgres, redis) = (
        devstack_e2e::local_image("postgres").unwrap(),
        devstack_e2e::local_image("redis").unwrap(),
    );
    let overrides = format!("postgres={postgres}");
    let mut operator = Operator::start(&[ns.name()], &["--image-override", &overrides]).unwrap();
    let body = format!(
        "  isolation: open\n  services:\n    db: {{type: postgres, env: {{POSTGRES_DB: orders}}}}\n    app:\n      image: {redis}\n      command: [sleep, infinity]\n      dependsOn: [db, worker]\n      secrets: [JWT_SECRET, OTHER_SECRET]\n      connectionEnv: {{DB_NAME: db.DB}}\n    worker:\n      image: {redis}\n      replicas: 2\n      command: [redis-server, --port, '{{{{replica.port}}}}', --save, '', --appendonly, 'no', --protected-mode, 'no']\n      ports: [{{name: redis, containerPort: 5403, hostPort: 5403}}]\n      env: {{WORKER_PORT: '{{{{replica.port}}}}', WORKER_PUBLIC_BASE_URL: 'http://{{{{replica.host}}}}:{{{{replica.port}}}}'}}\n"
    );
    let vals = stack("vals", ns.name(), &body);
    create(&client, &vals).await.unwrap();
    wait_for(ns.name(), "vals", "Ready", 240)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let pods = ns.api::<Pod>();
    let n = ns.name();

    // The app secret in the pod = the credentials Secret; DB_NAME mapped.
    let app = pod_of(&pods, "app").await.unwrap().expect("app pod");
    let jwt = printenv(n, &app, "JWT_SECRET").await;
    let other = printenv(n, &app, "OTHER_SECRET").await;
    assert_eq!(jwt.len(), 32);
    assert_eq!(
        secret_value(&client, n, "DEVSTACK_APP_JWT_SECRET").await,
        jwt
    );
    assert_eq!(printenv(n, &app, "DB_NAME").await, "orders");

    // Fan-out: own port and env, reachable by its own name.
    for (i, port) in [(1, 5403), (2, 5404)] {
        let replica = format!("worker-{i}");
        let pod = pod_of(&pods, &replica).await.unwrap().expect("replica pod");
        assert_eq!(printenv(n, &pod, "WORKER_PORT").await, port.to_string());
        let url = printenv(n, &pod, "WORKER_PUBLIC_BASE_URL").await;
        assert_eq!(url, format!("http://{replica}.{n}.svc:{port}"));
        let host = format!("{replica}.{n}.svc");
        let pong = kubectl(&[
            "exec",
            "-n",
            n,
            &app,
            "--",
            "redis-cli",
            "-h",
            &host,
            "-p",
            &port.to_string(),
            "ping",
        ])
        .await
        .unwrap_or_else(|e| panic!("app -> {host}:{port}: {e:#}"));
        assert_eq!(pong.trim(), "PONG");
    }

    // Live parity against the Kubernetes rendering.
    let parity = std::process::Command::new(devstack_e2e::bin::devstack())
        .arg("parity")
        .arg("-")
        .args(["--live", "--runtime", "kubernetes", "--namespace", n])
        .args(["--image-override", &overrides])
        .env("KUBECONFIG", devstack_e2e::kubeconfig_source().unwrap())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let yaml = devstack_core::yaml::to_string(&vals).unwrap_or_default();
            child.stdin.take().map(|mut s| s.write_all(yaml.as_bytes()));
            child.wait_with_output()
        })
        .unwrap();
    let out = String::from_utf8_lossy(&parity.stdout);
    assert!(
        parity.status.success() && out.contains(" 0 mismatches"),
        "{out}\n{}",
        String::from_utf8_lossy(&parity.stderr)
    );

    // A restart keeps the value.
    kubectl(&["delete", "pod", "-n", n, &app, "--wait=false"])
        .await
        .unwrap();
    let restarted = new_pod(&pods, "app", &app).await;
    assert_eq!(printenv(n, &restarted, "JWT_SECRET").await, jwt);

    // Rotate one: recorded once, only it changes, the consumer rolls out.
    let api = ns.api::<DevStack>();
    let patch = serde_json::json!({"metadata": {"annotations": {"devstack.dev/rotate": "1:app.JWT_SECRET"}}});
    api.patch("vals", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let rotated = new_pod(&pods, "app", &restarted).await;
    let new = poll_until(
        "the rotated value in the new pod",
        Duration::from_secs(120),
        || {
            let (rotated, jwt) = (rotated.clone(), jwt.clone());
            async move {
                let value = kubectl(&["exec", "-n", n, &rotated, "--", "printenv", "JWT_SECRET"])
                    .await?
                    .trim()
                    .to_string();
                Ok((value != jwt).then_some(value))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert_eq!(
        secret_value(&client, n, "DEVSTACK_APP_JWT_SECRET").await,
        new
    );
    assert_eq!(printenv(n, &rotated, "OTHER_SECRET").await, other);
    let recorded = kubectl(&[
        "get",
        "secret",
        "-n",
        n,
        "vals-credentials",
        "-o",
        "jsonpath={.metadata.annotations.devstack\\.dev/last-rotate}",
    ])
    .await
    .unwrap();
    assert_eq!(recorded, "1:app.JWT_SECRET");
    assert!(
        !operator.log().contains(&new),
        "a secret value in the operator's log"
    );

    finish(ns, &mut operator).await.unwrap();
}
