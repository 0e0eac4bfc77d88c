//! A service whose image is not in the catalog becomes an image service: image, ports,
//! `entrypoint` → `command` and `command` → `args`, environment, health check; build, mounts,
//! sync and storage are [`crate::devloop`]'s.

use std::collections::BTreeMap;

use devstack_core::types::{PortSpec, ServiceSpec};
use serde_json::Value;

use crate::loss::LossReport;
use crate::model::{Port, Service};
use crate::{health, ports};

/// Maps a custom service; `image` is the image to run (with `build`: the repository, `None`
/// for devstack's default). Mounts are [`crate::devloop`]'s.
pub fn map(
    name: &str,
    svc: &Service,
    image: Option<String>,
    report: &mut LossReport,
) -> ServiceSpec {
    let mut spec = ServiceSpec {
        image,
        command: svc.entrypoint.clone().filter(|c| !c.is_empty()),
        args: svc.command.clone().filter(|c| !c.is_empty()),
        ..ServiceSpec::default()
    };
    let port_specs = port_specs(name, &svc.ports, &svc.expose, report);
    let names: BTreeMap<u16, String> = port_specs
        .iter()
        .map(|p| (p.container_port as u16, p.name.clone()))
        .collect();
    if !port_specs.is_empty() {
        spec.ports = Some(port_specs);
    }
    if let Some(check) = &svc.healthcheck {
        spec.healthcheck = health::map(name, check, &names, report);
        if spec.healthcheck.as_ref().is_some_and(|h| h.http.is_some()) {
            report.changed(
                name,
                "healthcheck.test",
                "a curl/wget GET of a local URL becomes an http check (a kubelet httpGet in Kubernetes; wget-or-curl in Compose)",
                "nothing to do",
            );
        }
    }
    spec.env = crate::env::custom(name, &svc.environment, report);
    spec
}

/// Ports: each published or exposed container port once, named `port-<n>`; TCP only.
fn port_specs(
    name: &str,
    published: &[Port],
    expose: &[Value],
    report: &mut LossReport,
) -> Vec<PortSpec> {
    let mut out: Vec<PortSpec> = Vec::new();
    for port in published {
        let Some(host) = ports::host_port(name, port, report) else {
            push(&mut out, port.target, None);
            continue;
        };
        push(&mut out, port.target, Some(host));
    }
    for value in expose {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        match text.split('/').next().and_then(|p| p.parse::<u16>().ok()) {
            Some(p) => push(&mut out, p, None),
            None => report.dropped(
                name,
                "expose",
                &format!("{text}: not a single port"),
                "list each port",
            ),
        }
    }
    out
}

fn push(out: &mut Vec<PortSpec>, target: u16, host: Option<i64>) {
    if let Some(existing) = out
        .iter_mut()
        .find(|p| p.container_port == i64::from(target))
    {
        existing.host_port = existing.host_port.or(host);
        return;
    }
    out.push(PortSpec {
        name: format!("port-{target}"),
        container_port: i64::from(target),
        host_port: host,
    });
}
