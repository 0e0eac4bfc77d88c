//! Fan-out with distinct ports: `replicas: N` on an image service with a host port, or with
//! `{{replica.…}}` placeholders, becomes N services `<name>-1` … `<name>-N`, replica *n* with
//! every port (container and host) shifted by *n − 1* and its own env, command and args:
//!
//! - `{{replica.name}}`: its service name (`worker-2`); `{{replica.index}}`: *n*;
//! - `{{replica.port}}` / `{{replica.hostPort}}`: its first port, in the container / on the host;
//! - `{{replica.host}}`: its host name (`worker-2` in Compose, `worker-2.<ns>.svc` in
//!   Kubernetes), a host hole of the plan's templates like any service's.
//!
//! Each replica is a service of its own in both runtimes (its own container / Deployment and
//! Service, reachable by its own name, its host port a node port by the usual rule), so
//! parity, reachability and `devstack env` treat it like any other. A dependent that lists the
//! fanned-out name depends on every replica. The replicas share the service's app secrets. A
//! service with one replica keeps its name; its placeholders are filled the same way.

use std::collections::BTreeMap;

use super::model::ServicePlan;
use crate::error::ValidationErrors;
use crate::limits::MAX_SERVICES;
use crate::template::{Segment, Template};
use crate::types::{DevStackSpec, ServiceSpec};

/// The host placeholder: kept as text until the plan's templates exist, then a host hole.
const HOST: &str = "{{replica.host}}";

/// The spec with fan-out services expanded, and where each service came from.
pub(super) struct Expanded {
    /// The spec every later step reads.
    pub spec: DevStackSpec,
    /// Service name -> the name in the user's spec (the same for a service not fanned out).
    pub origin: BTreeMap<String, String>,
}

impl Expanded {
    /// The name in the user's spec of planned service `name`.
    pub fn origin<'a>(&'a self, name: &'a str) -> &'a str {
        self.origin.get(name).map_or(name, String::as_str)
    }
}

/// Expands the fan-out services of `spec` (see the module docs).
pub(super) fn expand(spec: &DevStackSpec, errors: &mut ValidationErrors) -> Expanded {
    let mut out = spec.clone();
    out.services.clear();
    let mut origin = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let total: usize = spec.services.values().map(planned_count).sum();
    // Over the limit nothing is fanned out: the count error stands alone, and thousands of
    // replicas would make every later check (and its did-you-mean) quadratic.
    let within_limit = total <= MAX_SERVICES;
    if !within_limit && spec.services.len() <= MAX_SERVICES {
        errors.push(
            "spec.services",
            format!(
                "with its fan-out replicas the stack has {total} services, at most {MAX_SERVICES}: lower replicas"
            ),
        );
    }
    for (name, service) in &spec.services {
        let path = format!("spec.services.{name}");
        let count = replicas_of(service);
        if !within_limit || !fans_out(service) {
            origin.insert(name.clone(), name.clone());
            out.services
                .insert(name.clone(), fill(service, name, 1, &path, errors));
            continue;
        }
        for n in 1..=count {
            let replica = format!("{name}-{n}");
            if spec.services.contains_key(&replica) {
                errors.push(
                    format!("{path}.replicas"),
                    format!("replica {replica:?} of the fan-out has the name of another service; rename one"),
                );
                continue;
            }
            let mut planned = fill(service, &replica, i64::from(n), &path, errors);
            planned.replicas = Some(1);
            origin.insert(replica.clone(), name.clone());
            groups
                .entry(name.clone())
                .or_default()
                .push(replica.clone());
            out.services.insert(replica, planned);
        }
    }
    for service in out.services.values_mut() {
        service.depends_on = service
            .depends_on
            .iter()
            .flat_map(|d| groups.get(d).cloned().unwrap_or_else(|| vec![d.clone()]))
            .collect();
    }
    Expanded { spec: out, origin }
}

/// Whether `service` fans out: an image service with more than one replica and a host port
/// or a replica placeholder.
fn fans_out(service: &ServiceSpec) -> bool {
    let has_host_port = service
        .ports
        .iter()
        .flatten()
        .any(|p| p.host_port.is_some());
    service.image.is_some()
        && replicas_of(service) > 1
        && (has_host_port || uses_placeholders(service))
}

/// How many planned services `service` becomes (its replicas when it fans out).
fn planned_count(service: &ServiceSpec) -> usize {
    if fans_out(service) {
        usize::try_from(replicas_of(service)).unwrap_or(1)
    } else {
        1
    }
}

fn replicas_of(service: &ServiceSpec) -> i32 {
    service.replicas.unwrap_or(1)
}

fn uses_placeholders(service: &ServiceSpec) -> bool {
    let words = service.command.iter().chain(&service.args).flatten();
    service
        .env
        .values()
        .chain(words)
        .any(|v| v.contains("{{replica."))
}

/// Replica `n` (1-based) of `service`, named `name`: ports shifted, placeholders filled (the
/// host one stays for [`place_hosts`]).
fn fill(
    service: &ServiceSpec,
    name: &str,
    n: i64,
    path: &str,
    errors: &mut ValidationErrors,
) -> ServiceSpec {
    let mut out = service.clone();
    if service.image.is_none() {
        return out;
    }
    let shift = n - 1;
    for port in out.ports.iter_mut().flatten() {
        port.container_port += shift;
        port.host_port = port.host_port.map(|p| p + shift);
        for (what, value) in [
            ("containerPort", Some(port.container_port)),
            ("hostPort", port.host_port),
        ] {
            if value.is_some_and(|v| v > 65535) {
                errors.push(
                    format!("{path}.ports"),
                    format!("replica {n}'s {what} {} is above 65535: lower the base port or the replicas", value.unwrap_or_default()),
                );
            }
        }
    }
    let first = out.ports.as_ref().and_then(|p| p.first()).cloned();
    let text = |value: &str, field: String, errors: &mut ValidationErrors| -> String {
        let mut value = value
            .replace("{{replica.name}}", name)
            .replace("{{replica.index}}", &n.to_string());
        if value.contains("{{replica.port}}") {
            match &first {
                Some(p) => value = value.replace("{{replica.port}}", &p.container_port.to_string()),
                None => errors.push(field.clone(), "{{replica.port}} needs a port: add ports"),
            }
        }
        if value.contains("{{replica.hostPort}}") {
            match first.as_ref().and_then(|p| p.host_port) {
                Some(p) => value = value.replace("{{replica.hostPort}}", &p.to_string()),
                None => errors.push(
                    field.clone(),
                    "{{replica.hostPort}} needs a hostPort on the first port",
                ),
            }
        }
        let rest = value.replace(HOST, "");
        if let Some(at) = rest.find("{{replica.") {
            let unknown: String = rest[at..].chars().take_while(|c| *c != '}').collect();
            errors.push(
                field,
                format!("unknown placeholder {unknown}}}}}: use {{{{replica.name}}}}, {{{{replica.index}}}}, {{{{replica.host}}}}, {{{{replica.port}}}} or {{{{replica.hostPort}}}}"),
            );
        }
        value
    };
    out.env = service
        .env
        .iter()
        .map(|(k, v)| (k.clone(), text(v, format!("{path}.env.{k}"), errors)))
        .collect();
    for (field, list) in [("command", &mut out.command), ("args", &mut out.args)] {
        if let Some(words) = list {
            *words = words
                .iter()
                .enumerate()
                .map(|(i, w)| text(w, format!("{path}.{field}[{i}]"), errors))
                .collect();
        }
    }
    out
}

/// `errors` without repeats (each replica of a fan-out reports its service's problems).
pub(super) fn dedup(errors: ValidationErrors) -> ValidationErrors {
    let mut out = ValidationErrors::default();
    for e in errors.0 {
        if !out
            .0
            .iter()
            .any(|o| o.path == e.path && o.message == e.message)
        {
            out.0.push(e);
        }
    }
    out
}

/// Turns the `{{replica.host}}` text in each service's env, command and args into the host
/// hole of that service (after planning: the templates exist).
pub(super) fn place_hosts(services: &mut BTreeMap<String, ServicePlan>) {
    for service in services.values_mut() {
        let name = service.name.clone();
        for var in &mut service.env {
            if let super::model::EnvSource::Template(t) = &mut var.source {
                *t = split(t, &name);
            }
        }
        for list in [&mut service.command, &mut service.args]
            .into_iter()
            .flatten()
        {
            for t in list.iter_mut() {
                *t = split(t, &name);
            }
        }
    }
}

fn split<S: Clone>(template: &Template<S>, host: &str) -> Template<S> {
    let mut out = Template(Vec::new());
    for segment in &template.0 {
        match segment {
            Segment::Lit(text) if text.contains(HOST) => {
                for (i, part) in text.split(HOST).enumerate() {
                    if i > 0 {
                        out.0.push(Segment::Host(host.to_string()));
                    }
                    if !part.is_empty() {
                        out.0.push(Segment::Lit(part.to_string()));
                    }
                }
            }
            other => out.0.push(other.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests;
