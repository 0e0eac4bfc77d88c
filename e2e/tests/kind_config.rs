//! The Kind path as far as it runs here (Kind itself cannot: see kind/devstack-cluster.yaml):
//! `kind/up.sh check-config` reads the cluster config with Kind's own v1alpha4 types, and the
//! config gives host-port parity for the examples `kind/up.sh` is documented with.
//!
//! Run: `cargo test -p devstack-e2e --test kind_config` (needs Go for the checker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::{Command, Output};

use devstack_core::parse::parse_devstack;
use devstack_e2e::workspace_root;

fn check_config(file: Option<&str>) -> Output {
    let root = workspace_root();
    Command::new("bash")
        .arg(root.join("kind/up.sh"))
        .arg("check-config")
        .args(file)
        .output()
        .unwrap()
}

/// The host ports a DevStack example publishes (catalog `hostPorts` and custom `ports`).
fn example_host_ports(file: &str) -> BTreeSet<i64> {
    let text = std::fs::read_to_string(workspace_root().join("examples").join(file)).unwrap();
    let stack = parse_devstack(&text).unwrap();
    let mut ports = BTreeSet::new();
    for svc in stack.spec.services.values() {
        ports.extend(svc.host_ports.values().copied());
        for p in svc.ports.iter().flatten() {
            ports.extend(p.host_port);
        }
    }
    ports
}

#[test]
fn config_is_valid_and_maps_the_examples_host_ports_to_loopback() {
    let out = check_config(None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mappings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut mapped = BTreeSet::new();
    for m in &mappings {
        // Parity with Compose's 127.0.0.1:<host>:<container>: the node port is the host port.
        assert_eq!(m["hostPort"], m["containerPort"], "{m}");
        assert_eq!(m["listenAddress"], "127.0.0.1", "{m}");
        assert_eq!(m["protocol"], "TCP", "{m}");
        mapped.insert(m["hostPort"].as_i64().unwrap());
    }
    for example in ["minimal.yaml", "soma-shared-infra.yaml"] {
        let ports = example_host_ports(example);
        assert!(!ports.is_empty(), "{example} publishes no host port");
        let missing: Vec<_> = ports.difference(&mapped).collect();
        assert!(
            missing.is_empty(),
            "{example}: host ports {missing:?} have no Kind mapping"
        );
    }
}

#[test]
fn config_check_rejects_a_misspelled_field() {
    let good =
        std::fs::read_to_string(workspace_root().join("kind/devstack-cluster.yaml")).unwrap();
    let bad = good.replace("extraPortMappings:", "extraPortMapping:");
    assert_ne!(good, bad);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, bad).unwrap();
    let out = check_config(Some(path.to_str().unwrap()));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("extraPortMapping not found"), "{stderr}");
}
