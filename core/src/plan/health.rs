//! Health checks: a custom service's `healthcheck`, or the catalog entry's, with the port
//! names resolved to numbers so no renderer has to look them up.

use super::model::{Argv, HealthPlan, NamedPort, PortPlan, Probe};
use super::names::list_or_none;
use crate::catalog::{Check, Health};
use crate::error::{did_you_mean, ValidationErrors};
use crate::limits::{MAX_RETRIES, MAX_SECONDS};
use crate::types::HealthcheckSpec;

/// The CRD's maximum of a health check timing field (`retries` counts, the rest are seconds).
fn max_of(field: &str) -> i32 {
    if field == "retries" {
        MAX_RETRIES
    } else {
        MAX_SECONDS
    }
}

/// The port named `name` among `ports`.
fn resolve(ports: &[PortPlan], name: &str) -> Option<NamedPort> {
    ports.iter().find(|p| p.name == name).map(|p| NamedPort {
        name: p.name.clone(),
        number: p.container_port,
    })
}

/// The health check of a custom service, from its `healthcheck` (at `path`).
pub(super) fn custom(
    spec: &HealthcheckSpec,
    ports: &[PortPlan],
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<HealthPlan> {
    let set = [spec.http.is_some(), spec.tcp.is_some(), spec.exec.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if set != 1 {
        errors.push(path, "set exactly one of http, tcp or exec");
        return None;
    }
    let probe = custom_probe(spec, ports, path, errors);
    let defaults = Health::new(Check::Exec(Vec::new()));
    let mut timing = |value: Option<i32>, field: &str, min: i32, default: u32| {
        timing(value, min, default, &format!("{path}.{field}"), errors)
    };
    let interval_seconds = timing(
        spec.interval_seconds,
        "intervalSeconds",
        1,
        defaults.interval_seconds,
    );
    let timeout_seconds = timing(
        spec.timeout_seconds,
        "timeoutSeconds",
        1,
        defaults.timeout_seconds,
    );
    let retries = timing(spec.retries, "retries", 1, defaults.retries);
    let start_period_seconds = timing(
        spec.start_period_seconds,
        "startPeriodSeconds",
        0,
        defaults.start_period_seconds,
    );
    Some(HealthPlan {
        probe: probe?,
        interval_seconds,
        timeout_seconds,
        retries,
        start_period_seconds,
        in_container: defaults.in_container,
    })
}

/// The probe of a `healthcheck` that sets exactly one of http, tcp or exec, its port resolved.
fn custom_probe(
    spec: &HealthcheckSpec,
    ports: &[PortPlan],
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<Probe> {
    let port = |name: &str, field: &str, errors: &mut ValidationErrors| {
        let found = resolve(ports, name);
        if found.is_none() {
            errors.push(
                format!("{path}.{field}.port"),
                format!(
                    "no port named {name:?}{}; ports: {}",
                    did_you_mean(name, ports.iter().map(|p| p.name.as_str())),
                    list_or_none(ports.iter().map(|p| p.name.as_str()))
                ),
            );
        }
        found
    };
    if let Some(http) = &spec.http {
        let port = port(&http.port, "http", errors);
        if !http.path.starts_with('/') {
            errors.push(
                format!("{path}.http.path"),
                format!("{:?} must start with '/'", http.path),
            );
        }
        port.map(|port| Probe::Http {
            path: http.path.clone(),
            port,
        })
    } else if let Some(tcp) = &spec.tcp {
        port(&tcp.port, "tcp", errors).map(|port| Probe::Tcp { port })
    } else {
        let command = spec
            .exec
            .as_ref()
            .map(|e| e.command.clone())
            .unwrap_or_default();
        let argv = Argv::new(command);
        if argv.is_none() {
            errors.push(format!("{path}.exec.command"), "must not be empty");
        }
        argv.map(Probe::Exec)
    }
}

/// A timing field (at `field_path`) within its bounds, else `default` and an error.
fn timing(
    value: Option<i32>,
    min: i32,
    default: u32,
    field_path: &str,
    errors: &mut ValidationErrors,
) -> u32 {
    let field = field_path.rsplit('.').next().unwrap_or(field_path);
    match value {
        Some(v) if v < min => {
            errors.push(field_path, format!("must be at least {min}"));
            default
        }
        Some(v) if v > max_of(field) => {
            errors.push(
                field_path,
                format!("{v} is above the maximum of {}", max_of(field)),
            );
            default
        }
        Some(v) => u32::try_from(v).unwrap_or(default),
        None => default,
    }
}

/// The catalog entry's health check, ports resolved. An entry naming a port it does not have
/// or an empty command is a catalog bug (the catalog tests rule it out); it is still reported
/// as an error rather than planned.
pub(super) fn catalog(
    health: &Health,
    ports: &[PortPlan],
    type_name: &str,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<HealthPlan> {
    let mut port = |name: &str| {
        let found = resolve(ports, name);
        if found.is_none() {
            errors.push(
                path,
                format!("catalog entry {type_name} checks health on unknown port {name:?} (a catalog bug)"),
            );
        }
        found
    };
    let probe = match &health.check {
        Check::Exec(argv) => {
            let argv = Argv::new(argv.clone());
            if argv.is_none() {
                errors.push(
                    path,
                    format!(
                        "catalog entry {type_name} has an empty health command (a catalog bug)"
                    ),
                );
            }
            Probe::Exec(argv?)
        }
        Check::Http {
            path: url,
            port: name,
        } => Probe::Http {
            path: url.clone(),
            port: port(name)?,
        },
        Check::Tcp { port: name } => Probe::Tcp { port: port(name)? },
    };
    Some(HealthPlan {
        probe,
        interval_seconds: health.interval_seconds,
        timeout_seconds: health.timeout_seconds,
        retries: health.retries,
        start_period_seconds: health.start_period_seconds,
        in_container: health.in_container,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::service_spec;

    fn ports() -> Vec<PortPlan> {
        vec![PortPlan {
            name: "http".into(),
            container_port: 8080,
            host_port: None,
            node_port: None,
        }]
    }

    fn custom_of(healthcheck: &str) -> (Option<HealthPlan>, Vec<String>) {
        let spec = service_spec(&format!("{{image: a:1, healthcheck: {healthcheck}}}"));
        let mut errors = ValidationErrors::default();
        let health = custom(
            spec.healthcheck.as_ref().expect("healthcheck"),
            &ports(),
            "h",
            &mut errors,
        );
        (health, errors.0.into_iter().map(|e| e.path).collect())
    }

    #[test]
    fn http_check_resolves_the_port_number() {
        let (health, errors) = custom_of("{http: {path: /healthz, port: http}, retries: 2}");
        assert!(errors.is_empty(), "{errors:?}");
        let health = health.expect("planned");
        assert_eq!(
            health.probe,
            Probe::Http {
                path: "/healthz".into(),
                port: NamedPort {
                    name: "http".into(),
                    number: 8080
                }
            }
        );
        assert_eq!((health.retries, health.interval_seconds), (2, 10));
    }

    #[test]
    fn bad_checks_name_their_fields() {
        assert_eq!(custom_of("{tcp: {port: web}}").1, ["h.tcp.port"]);
        assert_eq!(
            custom_of("{http: {path: x, port: http}}").1,
            ["h.http.path"]
        );
        assert_eq!(custom_of("{exec: {command: []}}").1, ["h.exec.command"]);
        assert_eq!(
            custom_of("{exec: {command: [true]}, intervalSeconds: 0, startPeriodSeconds: -1}").1,
            ["h.intervalSeconds", "h.startPeriodSeconds"]
        );
        let (health, errors) = custom_of("{}");
        assert!(health.is_none());
        assert_eq!(errors, ["h"]);
    }

    #[test]
    fn catalog_check_with_unknown_port_is_reported() {
        let mut errors = ValidationErrors::default();
        let health = Health::new(Check::Tcp {
            port: "nope".into(),
        });
        assert!(catalog(&health, &ports(), "x", "s", &mut errors).is_none());
        assert!(errors.0[0].message.contains("catalog bug"));
        let ok = Health::new(Check::Tcp {
            port: "http".into(),
        })
        .outside_only();
        let planned = catalog(&ok, &ports(), "x", "s", &mut errors).expect("planned");
        assert!(!planned.in_container);
    }
}
