//! Container and host ports: a custom service's `ports`, a catalog service's `hostPorts`, and
//! the stack-wide rule that two active services never publish the same host port.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{PortPlan, ServicePlan};
use crate::catalog::CatalogEntry;
use crate::conventions::is_dns_label;
use crate::error::{did_you_mean, ValidationErrors};
use crate::types::PortSpec;

/// A host port, checked to be in 1-65535.
fn host_port(value: i64, path: &str, errors: &mut ValidationErrors) -> Option<u16> {
    match u16::try_from(value) {
        Ok(port) if port >= 1 => Some(port),
        _ => {
            errors.push(path, format!("host port {value} is outside 1-65535"));
            None
        }
    }
}

/// The ports of a custom service (`ports`): names unique DNS labels of at most 15 characters,
/// numbers unique and in range.
pub(super) fn custom(
    specs: &[PortSpec],
    path: &str,
    errors: &mut ValidationErrors,
) -> Vec<PortPlan> {
    let mut ports = Vec::new();
    let mut seen_names = BTreeSet::new();
    let mut seen_numbers = BTreeSet::new();
    for (i, port) in specs.iter().enumerate() {
        let field = format!("{path}.ports[{i}]");
        if !is_dns_label(&port.name, 15) {
            errors.push(
                format!("{field}.name"),
                format!(
                    "{:?} is not a port name: a DNS label of at most 15 characters",
                    port.name
                ),
            );
        }
        if !seen_names.insert(port.name.clone()) {
            errors.push(
                format!("{field}.name"),
                format!("duplicate port name {:?}", port.name),
            );
        }
        let container_port = match u16::try_from(port.container_port) {
            Ok(p) if p >= 1 => p,
            _ => {
                errors.push(
                    format!("{field}.containerPort"),
                    format!("{} is outside 1-65535", port.container_port),
                );
                continue;
            }
        };
        if !seen_numbers.insert(container_port) {
            errors.push(
                format!("{field}.containerPort"),
                format!("duplicate container port {container_port}"),
            );
        }
        let host = port
            .host_port
            .and_then(|h| host_port(h, &format!("{field}.hostPort"), errors));
        ports.push(PortPlan {
            name: port.name.clone(),
            container_port,
            host_port: host,
        });
    }
    ports
}

/// The ports of a catalog service, published as `hostPorts` asks (port name → host port).
pub(super) fn catalog(
    entry: &CatalogEntry,
    host_ports: &BTreeMap<String, i64>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Vec<PortPlan> {
    let mut ports: Vec<PortPlan> = entry
        .ports
        .iter()
        .map(|p| PortPlan {
            name: p.name.to_string(),
            container_port: p.port,
            host_port: None,
        })
        .collect();
    for (port_name, value) in host_ports {
        let field = format!("{path}.hostPorts.{port_name}");
        match ports.iter_mut().find(|p| &p.name == port_name) {
            Some(port) => port.host_port = host_port(*value, &field, errors),
            None => errors.push(
                field,
                format!(
                    "{} has no port named {port_name:?}{}; its ports: {}",
                    entry.type_name,
                    did_you_mean(port_name, entry.ports.iter().map(|p| p.name)),
                    entry
                        .ports
                        .iter()
                        .map(|p| format!("{} ({})", p.name, p.port))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    ports
}

/// The host ports a catalog entry's parts may advertise (Kafka's external listener): the
/// in-range values of `hostPorts`, by port name.
pub(super) fn published(host_ports: &BTreeMap<String, i64>) -> BTreeMap<String, u16> {
    host_ports
        .iter()
        .filter_map(|(name, port)| Some((name.clone(), u16::try_from(*port).ok()?)))
        .collect()
}

/// Two active services must not publish the same host port.
pub(super) fn check_unique(
    services: &BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    let mut taken: BTreeMap<u16, (String, String)> = BTreeMap::new();
    for service in services.values().filter(|s| s.active) {
        for (i, port) in service.ports.iter().enumerate() {
            let Some(host) = port.host_port else { continue };
            if let Some((other, other_port)) = taken.get(&host) {
                let field = if service.type_name.is_some() {
                    format!("spec.services.{}.hostPorts.{}", service.name, port.name)
                } else {
                    format!("spec.services.{}.ports[{i}].hostPort", service.name)
                };
                errors.push(
                    field,
                    format!("host port {host} is already used by {other} ({other_port}); pick another port or put one of them in a different profile"),
                );
            } else {
                taken.insert(host, (service.name.clone(), port.name.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{errors_of, service_spec};

    #[test]
    fn custom_ports_are_checked() {
        let spec = service_spec(
            "{image: a:1, ports: [{name: http, containerPort: 80, hostPort: 8080}, {name: http, containerPort: 80}, {name: x, containerPort: 70000}, {name: y, containerPort: 81, hostPort: 0}]}",
        );
        let mut errors = ValidationErrors::default();
        let ports = custom(spec.ports.as_deref().unwrap_or_default(), "s", &mut errors);
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "s.ports[1].name",
                "s.ports[1].containerPort",
                "s.ports[2].containerPort",
                "s.ports[3].hostPort"
            ]
        );
        assert_eq!(ports[0].host_port, Some(8080));
        assert_eq!(ports.len(), 3, "the out-of-range port is dropped");
    }

    #[test]
    fn catalog_host_ports_name_existing_ports() {
        let entry = crate::catalog::lookup("postgres").expect("postgres");
        let mut errors = ValidationErrors::default();
        let asked = BTreeMap::from([("postgres".to_string(), 5433), ("pg".to_string(), 1)]);
        let ports = catalog(entry, &asked, "s", &mut errors);
        assert_eq!(ports[0].host_port, Some(5433));
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "s.hostPorts.pg");
        assert!(errors.0[0].message.contains("did you mean \"postgres\""));
    }

    #[test]
    fn a_host_port_is_published_once_among_active_services() {
        let errors = errors_of(
            "a: {image: a:1, ports: [{name: http, containerPort: 80, hostPort: 8080}]}\nb: {type: redis, hostPorts: {redis: 8080}}\nc: {image: c:1, profiles: [off], ports: [{name: http, containerPort: 80, hostPort: 8080}]}\n",
        );
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["spec.services.b.hostPorts.redis"]);
    }
}
