//! `devstack parity --live --runtime kubernetes` on a GPU stack makes the operator's choice:
//! where no node offers `nvidia.com/gpu`, the objects of the CPU fallback (`render k8s
//! --gpu-fallback`, what the operator applies there) are what it expects, and 0 mismatches;
//! once a node offers GPUs, the same objects lack the GPU limit and it says MISMATCH.
//!
//! Its own test binary: it changes the kwok nodes' capacity, which no other test may see.
//! Needs the local control plane (`e2e/cluster.sh up`, KUBECONFIG); without it the test fails.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

use devstack_core::conventions::GPU_RESOURCE;
use devstack_e2e::kubectl::Kubectl;
use devstack_e2e::TestNamespace;

fn devstack(args: &[&str]) -> Output {
    Command::new(devstack_e2e::bin::devstack())
        .args(args)
        .env(
            "KUBECONFIG",
            devstack_e2e::kubeconfig_source().expect("kubeconfig"),
        )
        .output()
        .expect("run devstack")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Applies what the operator applies where no node offers GPUs (`render k8s --gpu-fallback`)
/// and runs the live check on it.
fn apply_fallback_and_check(stack: &str) -> Result<Output, String> {
    let rendered = devstack(&["render", "k8s", "--gpu-fallback", stack]);
    if !rendered.status.success() {
        return Err(format!("render k8s --gpu-fallback: {}", text(&rendered)));
    }
    Kubectl::new()
        .and_then(|kubectl| {
            kubectl.run_with_input(
                &["apply", "--server-side", "-f", "-"],
                Some(&String::from_utf8_lossy(&rendered.stdout)),
            )
        })
        .map_err(|e| format!("{e:#}"))?;
    Ok(devstack(&[
        "parity",
        "--live",
        "--runtime",
        "kubernetes",
        stack,
    ]))
}

#[tokio::test]
async fn live_kubernetes_check_expects_the_cpu_fallback_where_no_node_offers_gpus() {
    let client = devstack_e2e::client().await.unwrap();
    let ns = TestNamespace::on_kwok("parity-gpu").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stack_file = dir.path().join("stack.yaml");
    std::fs::write(
        &stack_file,
        format!(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: llm, namespace: {}}}\nspec:\n  services:\n    embedder:\n      image: ghcr.io/acme/embedder:1.0\n      ports: [{{name: http, containerPort: 8080}}]\n      gpu: 1\n",
            ns.name()
        ),
    )
    .unwrap();
    let stack = stack_file.to_str().unwrap();

    devstack_e2e::set_kwok_capacity(&client, GPU_RESOURCE, None)
        .await
        .unwrap();
    let without_gpus = apply_fallback_and_check(stack);
    // Put the GPUs back before any assertion: the other tests expect them.
    devstack_e2e::set_kwok_capacity(&client, GPU_RESOURCE, Some("8"))
        .await
        .unwrap();
    let without_gpus = without_gpus.unwrap_or_else(|e| panic!("{e}"));
    let with_gpus = devstack(&["parity", "--live", "--runtime", "kubernetes", stack]);
    ns.cleanup().await.unwrap();

    let report = text(&without_gpus);
    assert!(
        without_gpus.status.success() && report.contains(" 0 mismatches"),
        "no node offers GPUs, the objects are the CPU fallback: {report}"
    );
    let report = text(&with_gpus);
    assert_eq!(with_gpus.status.code(), Some(1), "{report}");
    assert!(
        report.contains("embedder resources: MISMATCH"),
        "a node offers GPUs now, the objects lack the limit: {report}"
    );
}
