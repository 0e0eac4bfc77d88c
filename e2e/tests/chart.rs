//! The operator's Helm chart without a cluster: `helm lint --strict`, the rendered manifests
//! as golden files (every-namespace and namespaced mode), the values schema, and the chart's
//! copy of the CRD against `crds/`.
//!
//! Run: `cargo test -p devstack-e2e --test chart` (builds Helm on first use).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use devstack_e2e::helm::{chart_dir, helm, helm_output};
use devstack_e2e::workspace_root;

const RELEASE: &str = "devstack-operator";
const NAMESPACE: &str = "devstack-system";

/// Values of the namespaced mode used by the golden file and the lint.
const NAMESPACED: &[&str] = &[
    "--set",
    "watchNamespaces={team-a,team-b}",
    "--set",
    "replicas=2",
    "--set",
    "imageOverrides.postgres=registry.internal/postgres:16.4",
    "--set",
    "serviceMonitor.enabled=true",
];

fn template(extra: &[&str]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        RELEASE,
        chart.to_str().unwrap(),
        "--namespace",
        NAMESPACE,
    ];
    args.extend_from_slice(extra);
    helm(&args, false).unwrap()
}

#[test]
fn lint_strict_passes_in_both_modes() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let out = helm(&["lint", "--strict", chart], false).unwrap();
    assert!(out.contains("0 chart(s) failed"), "{out}");
    let mut args = vec!["lint", "--strict", chart];
    args.extend_from_slice(NAMESPACED);
    let out = helm(&args, false).unwrap();
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[test]
fn renders_every_namespace_mode() {
    insta::assert_snapshot!("all-namespaces", template(&[]));
}

#[test]
fn renders_namespaced_mode() {
    insta::assert_snapshot!("namespaced", template(NAMESPACED));
}

#[test]
fn crd_in_the_chart_is_the_generated_one() {
    let root = workspace_root();
    let generated = std::fs::read(root.join("crds/devstack.dev_devstacks.yaml")).unwrap();
    let in_chart = std::fs::read(chart_dir().join("crds/devstack.dev_devstacks.yaml")).unwrap();
    assert!(
        generated == in_chart,
        "charts/devstack-operator/crds/devstack.dev_devstacks.yaml differs from \
         crds/devstack.dev_devstacks.yaml; copy it: \
         cp crds/devstack.dev_devstacks.yaml charts/devstack-operator/crds/"
    );
}

#[test]
fn values_schema_rejects_bad_values_by_name() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    for (set, field) in [
        ("replicas=0", "replicas"),
        ("logFormat=yaml", "logFormat"),
        ("watchNamespaces={Team_A}", "watchNamespaces"),
        ("imageOverrides.postgres=", "imageOverrides"),
        ("nodePortRange=1-65535", "nodePortRange"),
        ("replica=2", "replica"),
    ] {
        let out = helm_output(&["template", RELEASE, chart, "--set", set], false).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--set {set} was accepted");
        assert!(
            stderr.contains(field),
            "--set {set}: error does not name {field}: {stderr}"
        );
    }
}

#[test]
fn chart_version_follows_the_crate() {
    let chart = std::fs::read_to_string(chart_dir().join("Chart.yaml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        chart.contains(&format!("\nversion: {version}\n")),
        "{chart}"
    );
    assert!(
        chart.contains(&format!("\nappVersion: \"{version}\"\n")),
        "{chart}"
    );
}
