//! Stack-wide host ports: a DevStack host port is never a well-known port (below 1024), a
//! control-plane port, or used twice by services that can run together. A Compose file's port
//! 80 or 443 moves to 8080 / 8443 (8000 above), anything else to the next free port; each move
//! is reported. Services in disjoint profiles are alternates (`redis` in `core`, `valkey` in
//! `cache-alt`) and may share a host port, as Compose lets them.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::plan::reserved_port;
use devstack_core::types::ServiceSpec;

use crate::loss::LossReport;

/// Moves reserved or repeated host ports in `services` (DevStack name → spec); `compose`
/// maps DevStack names back to Compose names for the report.
pub fn settle(
    services: &mut BTreeMap<String, ServiceSpec>,
    compose: &BTreeMap<String, String>,
    report: &mut LossReport,
) {
    let mut taken: Vec<(Vec<String>, i64)> = Vec::new();
    for (name, spec) in services.iter_mut() {
        let shown = compose.get(name).cloned().unwrap_or_else(|| name.clone());
        let profiles = spec.profiles.clone();
        let used: BTreeSet<i64> = taken
            .iter()
            .filter(|(p, _)| together(p, &profiles))
            .map(|(_, port)| *port)
            .collect();
        let mut used = used;
        let mut mine: Vec<i64> = Vec::new();
        let mut settle_one = |target: String, host: &mut i64| {
            let original = *host;
            if !bad(*host, &used) {
                used.insert(*host);
                mine.push(*host);
                return;
            }
            let mut candidate = if original < 1024 {
                original + 8000
            } else {
                original + 1
            };
            while bad(candidate, &used) && candidate < 65535 {
                candidate += 1;
            }
            *host = candidate;
            used.insert(candidate);
            mine.push(candidate);
            let why = match u16::try_from(original).ok().and_then(reserved_port) {
                Some(reason) => reason,
                None => format!("{original} is published twice"),
            };
            report.changed(
                &shown,
                &format!("ports.{target}"),
                &format!("host port {original} becomes {candidate}: {why}"),
                "use the new port on the host (127.0.0.1)",
            );
        };
        for port in spec.ports.iter_mut().flatten() {
            if let Some(host) = port.host_port.as_mut() {
                settle_one(port.container_port.to_string(), host);
            }
        }
        for (port_name, host) in spec.host_ports.iter_mut() {
            let target = spec_port(port_name, spec.type_.as_deref());
            settle_one(target, host);
        }
        taken.extend(mine.into_iter().map(|port| (profiles.clone(), port)));
    }
}

/// Whether services with profiles `a` and `b` can run together: either always runs, or they
/// share a profile.
fn together(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|p| b.contains(p))
}

fn spec_port(name: &str, type_name: Option<&str>) -> String {
    type_name
        .and_then(devstack_core::catalog::lookup)
        .and_then(|e| e.port(name))
        .map_or_else(|| name.to_string(), |p| p.port.to_string())
}

fn bad(port: i64, used: &BTreeSet<i64>) -> bool {
    used.contains(&port)
        || u16::try_from(port).map_or(true, |p| p == 0 || reserved_port(p).is_some())
}
