//! The per-container aspects of a rendered workload: published ports, health, resources,
//! mounts and security settings.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::GPU_RESOURCE;
use devstack_core::plan::StackPlan;
use devstack_core::quantity;
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{probe_description, Workload};
use crate::{cpu, start_grace, startup_window, NormService};

/// Container port -> host port, from the node ports of the Services fronting `service`.
pub(super) fn host_ports<'a>(
    fronts: impl Iterator<Item = &'a Service>,
    container: &Container,
    plan: &StackPlan,
    service: &str,
) -> BTreeMap<u16, u16> {
    let mut host_ports = BTreeMap::new();
    for front in fronts {
        for port in front.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
            let Some(node_port) = port.node_port else {
                continue;
            };
            let target = match &port.target_port {
                Some(IntOrString::Int(n)) => Some(*n),
                Some(IntOrString::String(name)) => container
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port),
                None => Some(port.port),
            };
            let Some(target) = target else { continue };
            // The node port reads back as the host port it was planned for.
            let host = plan
                .services
                .get(service)
                .and_then(|s| {
                    s.ports
                        .iter()
                        .find(|p| i32::from(p.container_port) == target)
                })
                .filter(|p| p.node_port.map(i32::from) == Some(node_port))
                .and_then(|p| p.host_port)
                .map_or(node_port, i32::from);
            host_ports.insert(target as u16, host as u16);
        }
    }
    host_ports
}

pub(super) fn health(container: &Container, norm: &mut NormService) {
    let Some(ready) = &container.readiness_probe else {
        return;
    };
    norm.health = Some(probe_description(ready, container));
    let interval = ready.period_seconds.unwrap_or(10) as u32;
    let retries = ready.failure_threshold.unwrap_or(3) as u32;
    let window = startup_window(container.startup_probe.as_ref(), retries, interval);
    let grace = window.saturating_sub(retries * interval);
    norm.health_timing = Some([
        interval,
        ready.timeout_seconds.unwrap_or(1) as u32,
        retries,
        start_grace(grace, interval),
    ]);
}

pub(super) fn resources(container: &Container, norm: &mut NormService) {
    let Some(resources) = &container.resources else {
        return;
    };
    norm.requests = cpu_and_memory(&resources.requests);
    norm.limits = cpu_and_memory(&resources.limits);
    norm.gpu = resources
        .limits
        .as_ref()
        .and_then(|m| m.get(GPU_RESOURCE))
        .and_then(|q| q.0.parse().ok())
        .unwrap_or(0);
}

/// `[millicores, bytes]`, 0 for what is not set.
fn cpu_and_memory(map: &Option<BTreeMap<String, Quantity>>) -> [u64; 2] {
    let cpu_millis = map
        .as_ref()
        .and_then(|m| m.get("cpu"))
        .and_then(|q| cpu(&q.0))
        .unwrap_or(0);
    let memory = map
        .as_ref()
        .and_then(|m| m.get("memory"))
        .and_then(|q| quantity::bytes(&q.0).ok())
        .unwrap_or(0);
    [cpu_millis, memory]
}

/// Host mounts (sync and hostPath), claims and writable scratch paths.
pub(super) fn mounts(workload: &Workload, container: &Container, norm: &mut NormService) {
    let volumes_where = |keep: fn(&k8s_openapi::api::core::v1::Volume) -> bool| {
        workload
            .pod
            .volumes
            .iter()
            .flatten()
            .filter(|v| keep(v))
            .map(|v| v.name.clone())
            .collect::<BTreeSet<String>>()
    };
    let empty_dirs = volumes_where(|v| v.empty_dir.is_some());
    let host_paths = volumes_where(|v| v.host_path.is_some());
    for mount in container.volume_mounts.iter().flatten() {
        let read_only = mount.read_only == Some(true);
        let is_sync = mount.name.starts_with("sync-") && empty_dirs.contains(&mount.name);
        if is_sync || host_paths.contains(&mount.name) {
            norm.host_mounts.insert(
                mount.mount_path.clone(),
                if read_only { "ro" } else { "rw" }.to_string(),
            );
        } else if let Some(size) = workload.claims.get(&mount.name) {
            norm.volumes.insert(mount.mount_path.clone(), *size);
        } else if empty_dirs.contains(&mount.name) {
            norm.writable_paths.insert(mount.mount_path.clone());
        }
    }
}

pub(super) fn security(pod: &PodSpec, container: &Container, norm: &mut NormService) {
    let pod_sc = pod.security_context.as_ref();
    if let Some(uid) = pod_sc.and_then(|s| s.run_as_user) {
        let gid = pod_sc.and_then(|s| s.run_as_group).unwrap_or(uid);
        norm.user = Some(format!("{uid}:{gid}"));
    }
    if let Some(sc) = &container.security_context {
        if let Some(caps) = &sc.capabilities {
            norm.cap_drop = caps.drop.iter().flatten().cloned().collect();
            norm.cap_add = caps.add.iter().flatten().cloned().collect();
        }
        norm.no_new_privileges = sc.allow_privilege_escalation == Some(false);
        norm.read_only_root = sc.read_only_root_filesystem == Some(true);
    }
}
