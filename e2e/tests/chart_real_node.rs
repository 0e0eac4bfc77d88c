//! The chart's own operator pod on the harness's real kubelet node: the image
//! (`operator/image.sh build`) copied into the node's containerd (`e2e/cluster.sh load-image`),
//! `helm install --wait` rolls the Deployment out there, and the pod reconciles a stack of the
//! local postgres image to Ready.
//!
//! The local API server binds 127.0.0.1 and a Service cannot point at a loopback address, so
//! the release uses the chart's `hostNetwork` and `apiServer.host/port` values: the pod shares
//! the node's network and talks to 127.0.0.1:<secure port> (a SAN of the serving certificate)
//! with its ServiceAccount token and the cluster CA, as any in-cluster client does.
//!
//! Needs `e2e/cluster.sh up` (with its real node) and `e2e/docker.sh up`; fails without them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use devstack_e2e::free_port;
use devstack_e2e::helm::Release;
use devstack_e2e::kubectl::{Kubectl, KubectlNamespace, REAL_NODE};
use devstack_e2e::{docker_host, workspace_root};

const TIMEOUT: Duration = Duration::from_secs(180);

/// `operator/image.sh build`, then `e2e/cluster.sh load-image`: the image's reference.
fn image_on_the_node() -> String {
    let root = workspace_root();
    let built = Command::new("bash")
        .arg(root.join("operator/image.sh"))
        .arg("build")
        .env("DOCKER_HOST", docker_host())
        .output()
        .expect("run operator/image.sh build");
    assert!(
        built.status.success(),
        "operator/image.sh build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let image = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let loaded = Command::new("bash")
        .arg(root.join("e2e/cluster.sh"))
        .args(["load-image", &image])
        .env("DOCKER_HOST", docker_host())
        .output()
        .expect("run e2e/cluster.sh load-image");
    assert!(
        loaded.status.success(),
        "e2e/cluster.sh load-image {image}: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    image
}

/// The API server's secure port, from the admin kubeconfig's server URL.
fn apiserver_port(kubectl: &Kubectl) -> String {
    let server = kubectl
        .run(&[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ])
        .expect("read the kubeconfig");
    let port = server.trim().rsplit(':').next().unwrap_or_default();
    assert!(
        server.trim().starts_with("https://127.0.0.1:") && port.parse::<u16>().is_ok(),
        "the local API server is on 127.0.0.1: {server}"
    );
    port.to_string()
}

fn get(kubectl: &Kubectl, ns: &str, what: &str, jsonpath: &str) -> String {
    kubectl
        .run(&["get", "-n", ns, what, "-o", &format!("jsonpath={jsonpath}")])
        .unwrap_or_else(|e| format!("{e:#}"))
        .trim()
        .to_string()
}

/// The operator pod's log and the namespaces' pods and events, for failure messages.
fn describe(kubectl: &Kubectl, release_ns: &str, stacks_ns: &str) -> String {
    let mut out = String::new();
    for args in [
        vec!["get", "pods", "-o", "wide", "-n", release_ns],
        vec!["get", "events", "-n", release_ns],
        vec![
            "logs",
            "-n",
            release_ns,
            "deployment/chart-node-devstack-operator",
            "--tail=40",
        ],
        vec!["get", "pods,devstacks", "-o", "wide", "-n", stacks_ns],
        vec!["get", "events", "-n", stacks_ns],
    ] {
        out.push_str(&kubectl.run(&args).unwrap_or_else(|e| format!("{e:#}")));
        out.push('\n');
    }
    out
}

#[test]
fn chart_operator_pod_runs_on_the_real_node_and_reconciles_a_stack() {
    let image = image_on_the_node();
    let release_ns = KubectlNamespace::new("chart-node").expect("release namespace");
    let stacks_ns = KubectlNamespace::new("chart-node-stacks").expect("stacks namespace");
    let kubectl = release_ns.kubectl.clone();
    let (ns, sns) = (release_ns.name.as_str(), stacks_ns.name.as_str());
    let postgres = devstack_e2e::local_image("postgres").expect("local postgres image");
    let values = [
        format!("watchNamespaces={{{sns}}}"),
        "hostNetwork=true".to_string(),
        "apiServer.host=127.0.0.1".to_string(),
        format!("apiServer.port={}", apiserver_port(&kubectl)),
        format!("metrics.port={}", free_port()),
        format!("imageOverrides.postgres={postgres}"),
        "logFormat=text".to_string(),
    ];
    let set: Vec<&str> = values.iter().map(String::as_str).collect();
    let release = Release::install("chart-node", ns, &set).unwrap_or_else(|e| {
        panic!(
            "helm install --wait: {e:#}\n{}",
            describe(&kubectl, ns, sns)
        )
    });

    // The chart's pod, from the node's containerd, Ready on the real node.
    let pod = kubectl
        .run(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            "app.kubernetes.io/instance=chart-node",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .expect("the operator pod")
        .trim()
        .to_string();
    let pod_ref = format!("pod/{pod}");
    assert_eq!(get(&kubectl, ns, &pod_ref, "{.spec.nodeName}"), REAL_NODE);
    assert_eq!(get(&kubectl, ns, &pod_ref, "{.status.phase}"), "Running");
    assert_eq!(
        get(
            &kubectl,
            ns,
            &pod_ref,
            "{.status.containerStatuses[0].ready}"
        ),
        "true"
    );
    assert_eq!(
        get(
            &kubectl,
            ns,
            &pod_ref,
            "{.status.containerStatuses[0].image}"
        ),
        format!("docker.io/{image}")
    );

    // It reconciles a stack: its postgres pod Ready on the real node, the DevStack Ready.
    let stack = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: nodechart, namespace: {sns}}}\nspec:\n  services:\n    db: {{type: postgres}}\n"
    );
    kubectl
        .run_with_input(&["apply", "-f", "-"], Some(&stack))
        .expect("kubectl apply the DevStack");
    let timeout = format!("--timeout={}s", TIMEOUT.as_secs());
    if let Err(e) = kubectl.run(&[
        "wait",
        "-n",
        sns,
        "--for=condition=Ready",
        "devstack/nodechart",
        &timeout,
    ]) {
        panic!("{e:#}\n{}", describe(&kubectl, ns, sns));
    }
    assert_eq!(
        get(&kubectl, sns, "pod/db-0", "{.spec.nodeName}"),
        REAL_NODE
    );
    assert_eq!(
        get(&kubectl, sns, "pod/db-0", "{.spec.containers[0].image}"),
        postgres
    );
    assert_eq!(
        get(
            &kubectl,
            sns,
            "pod/db-0",
            "{.status.containerStatuses[0].ready}"
        ),
        "true"
    );

    // Deleted while the operator runs (its finalizer), then the release and the namespaces.
    kubectl
        .run(&["delete", "devstack", "-n", sns, "nodechart", &timeout])
        .unwrap_or_else(|e| panic!("{e:#}\n{}", describe(&kubectl, ns, sns)));
    drop(release);
}
