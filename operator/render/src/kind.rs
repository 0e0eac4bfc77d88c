//! A Kind cluster config for a stack: the API server's node port range, one
//! `extraPortMappings` entry per host port (127.0.0.1:host → its node port, the same host port
//! clients use with Compose) and one `extraMounts` entry per `mounts` source (the host directory
//! at the same path inside the node, where the pod's `hostPath` finds it). Written by hand
//! before, these drifted from the stacks.

use std::collections::BTreeMap;

use devstack_core::plan::{NodePortRange, StackPlan};
use serde::Serialize;

use crate::RenderError;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Cluster {
    kind: &'static str,
    api_version: &'static str,
    nodes: Vec<Node>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    role: &'static str,
    kubeadm_config_patches: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_port_mappings: Vec<PortMapping>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_mounts: Vec<Mount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PortMapping {
    host_port: u16,
    container_port: u16,
    listen_address: &'static str,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Mount {
    host_path: String,
    container_path: String,
    read_only: bool,
}

/// The Kind config (YAML) that runs `plans` with host-port and host-mount parity. Host ports
/// and mount sources shared by several services (or stacks) appear once; a mount read-write
/// anywhere is mounted read-write (the pod's own `readOnly` still applies).
pub fn kind_config(plans: &[&StackPlan], range: NodePortRange) -> Result<String, RenderError> {
    let mut ports = BTreeMap::new();
    let mut mounts: BTreeMap<String, bool> = BTreeMap::new();
    for plan in plans {
        for service in plan.active_services() {
            for port in &service.ports {
                if let (Some(host), Some(node)) = (port.host_port, port.node_port) {
                    ports.insert(host, node);
                }
            }
            for mount in &service.mounts {
                let read_only = mounts.entry(mount.source.clone()).or_insert(true);
                *read_only &= mount.read_only;
            }
        }
    }
    let patch = format!(
        "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    service-node-port-range: \"{range}\"\n"
    );
    let cluster = Cluster {
        kind: "Cluster",
        api_version: "kind.x-k8s.io/v1alpha4",
        nodes: vec![Node {
            role: "control-plane",
            kubeadm_config_patches: vec![patch],
            extra_port_mappings: ports
                .into_iter()
                .map(|(host_port, container_port)| PortMapping {
                    host_port,
                    container_port,
                    listen_address: "127.0.0.1",
                    protocol: "TCP",
                })
                .collect(),
            extra_mounts: mounts
                .into_iter()
                .map(|(path, read_only)| Mount {
                    host_path: path.clone(),
                    container_path: path,
                    read_only,
                })
                .collect(),
        }],
    };
    devstack_core::yaml::to_string(&cluster).map_err(|source| RenderError::Yaml {
        kind: "Cluster",
        name: "kind".to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use devstack_core::test_support::{manifest, plan_yaml};

    use super::*;

    fn plan_of(services: &str) -> StackPlan {
        plan_yaml(&manifest("k", services))
    }

    #[test]
    fn host_ports_map_to_their_node_ports_and_mounts_keep_their_path() {
        let a = plan_of(
            "services:\n  db: {type: postgres, hostPorts: {postgres: 5432}}\n  api:\n    image: a:1\n    ports: [{name: http, containerPort: 80, hostPort: 31000}]\n    mounts: [{source: /srv/docs, target: /docs, readOnly: true}, {source: /srv/cache, target: /cache}]\n",
        );
        let b = plan_of(
            "services:\n  w:\n    image: w:1\n    mounts: [{source: /srv/docs, target: /in}]\n",
        );
        let yaml = kind_config(&[&a, &b], NodePortRange::default()).unwrap();
        let config: serde_json::Value = devstack_core::yaml::from_str(&yaml).unwrap();
        let node = &config["nodes"][0];
        assert_eq!(node["role"], "control-plane");
        let ports = node["extraPortMappings"].as_array().unwrap();
        assert_eq!(ports.len(), 2, "{yaml}");
        // 5432 is below the range: 30000 + (5432 - 30000) mod 2768 (kind/up.sh node-port).
        assert_eq!(ports[0]["hostPort"], 5432);
        assert_eq!(
            ports[0]["containerPort"],
            NodePortRange::default().node_port(5432)
        );
        assert_eq!(ports[0]["listenAddress"], "127.0.0.1");
        assert_eq!(ports[1]["hostPort"], 31000);
        assert_eq!(ports[1]["containerPort"], 31000);
        let mounts = node["extraMounts"].as_array().unwrap();
        assert_eq!(mounts.len(), 2, "{yaml}");
        assert_eq!(mounts[0]["hostPath"], "/srv/cache");
        assert_eq!(mounts[0]["containerPath"], "/srv/cache");
        assert_eq!(mounts[0]["readOnly"], false);
        // Read-only for api, read-write for w: the node mount is read-write.
        assert_eq!(mounts[1]["hostPath"], "/srv/docs");
        assert_eq!(mounts[1]["readOnly"], false);
        assert!(
            yaml.contains("service-node-port-range: \"30000-32767\""),
            "{yaml}"
        );
    }

    #[test]
    fn a_stack_without_host_ports_or_mounts_gets_the_range_only() {
        let yaml = kind_config(
            &[&plan_of("services:\n  db: {type: redis}\n")],
            NodePortRange::new(31000, 31999).unwrap(),
        )
        .unwrap();
        assert!(
            !yaml.contains("extraPortMappings") && !yaml.contains("extraMounts"),
            "{yaml}"
        );
        assert!(yaml.contains("31000-31999"), "{yaml}");
    }
}
