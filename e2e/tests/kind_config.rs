//! The Kind path as far as it runs here (Kind itself cannot: see kind/devstack-cluster.yaml):
//! `kind/up.sh check-config` reads the cluster config with Kind's own v1alpha4 types, and the
//! config gives host-port parity for the examples `kind/up.sh` is documented with.
//!
//! Run: `cargo test -p devstack-e2e --test kind_config` (needs Go for the checker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::{Command, Output};

use devstack_core::parse::parse_devstack;
use devstack_core::plan::NodePortRange;
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
        // Parity with Compose's 127.0.0.1:<host>:<container>: the host port maps onto the node
        // port devstack gives it, inside the node port range.
        let host = u16::try_from(m["hostPort"].as_i64().unwrap()).unwrap();
        let node = NodePortRange::default().node_port(host);
        assert_eq!(m["containerPort"].as_i64(), Some(i64::from(node)), "{m}");
        assert!((30000..=32767).contains(&node), "{m}");
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

#[test]
fn the_config_opens_only_the_default_node_port_range() {
    let text =
        std::fs::read_to_string(workspace_root().join("kind/devstack-cluster.yaml")).unwrap();
    let ranges: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("service-node-port-range:"))
        .map(|v| v.trim().trim_matches('"'))
        .collect();
    assert_eq!(ranges, ["30000-32767"]);
}

#[test]
fn kind_up_computes_node_ports_as_devstack_does() {
    let range = NodePortRange::default();
    for host in [
        1024u16, 5432, 5433, 9595, 19092, 29999, 30000, 31000, 32767, 32768, 65535,
    ] {
        let out = Command::new("bash")
            .arg(workspace_root().join("kind/up.sh"))
            .args(["node-port", &host.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            printed,
            range.node_port(host).to_string(),
            "host port {host}"
        );
    }
}

/// `devstack render kind FILE --with …`, checked by Kind's own types; its port mappings.
fn rendered_config(dir: &std::path::Path, files: &[&std::path::Path]) -> Vec<serde_json::Value> {
    let mut command = Command::new(devstack_e2e::bin::devstack());
    command.args(["render", "kind"]).arg(files[0]);
    for other in &files[1..] {
        command.arg("--with").arg(other);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("kind.yaml");
    std::fs::write(&path, &out.stdout).unwrap();
    let checked = check_config(Some(path.to_str().unwrap()));
    assert!(
        checked.status.success(),
        "Kind's types refuse the rendered config: {}\n{}",
        String::from_utf8_lossy(&checked.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    // No mapping at all prints `null` (Go's nil slice).
    serde_json::from_slice::<Option<Vec<serde_json::Value>>>(&checked.stdout)
        .unwrap()
        .unwrap_or_default()
}

#[test]
fn the_rendered_config_maps_every_host_port_and_mounts_every_host_path() {
    let dir = tempfile::tempdir().unwrap();
    let examples = workspace_root().join("examples");
    let names = ["minimal.yaml", "soma-shared-infra.yaml"];
    let files: Vec<_> = names.iter().map(|n| examples.join(n)).collect();
    let refs: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let mappings = rendered_config(dir.path(), &refs);
    let mapped: BTreeSet<i64> = mappings
        .iter()
        .map(|m| {
            let host = u16::try_from(m["hostPort"].as_i64().unwrap()).unwrap();
            let node = NodePortRange::default().node_port(host);
            assert_eq!(m["containerPort"].as_i64(), Some(i64::from(node)), "{m}");
            assert_eq!(m["listenAddress"], "127.0.0.1", "{m}");
            i64::from(host)
        })
        .collect();
    let wanted: BTreeSet<i64> = names.iter().flat_map(|n| example_host_ports(n)).collect();
    assert_eq!(mapped, wanted);

    // A stack with host mounts: each source is mounted at its own path on the node.
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    let stack = dir.path().join("mounts.yaml");
    std::fs::write(
        &stack,
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: m}\nspec:\n  services:\n    app:\n      image: a:1\n      mounts: [{source: ./docs, target: /mnt/docs, readOnly: true}]\n",
    )
    .unwrap();
    let out = Command::new(devstack_e2e::bin::devstack())
        .args(["render", "kind"])
        .arg(&stack)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let config: serde_json::Value = devstack_core::yaml::from_str(&text).unwrap();
    let mount = &config["nodes"][0]["extraMounts"][0];
    let source = docs.canonicalize().unwrap();
    assert_eq!(mount["hostPath"], source.to_str().unwrap(), "{text}");
    assert_eq!(mount["containerPath"], source.to_str().unwrap(), "{text}");
    assert_eq!(mount["readOnly"], true, "{text}");
    assert!(rendered_config(dir.path(), &[stack.as_path()]).is_empty());
}
