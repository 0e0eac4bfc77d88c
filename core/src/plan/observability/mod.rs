//! Observability wiring, generated from the stack instead of hand-written: every service's
//! metrics endpoints (the catalog's native ones, a custom service's `metrics`), the scrape
//! edges from each prometheus to them, the OTLP environment of services that depend on a
//! tracing sink, and the config files of prometheus, the collector and Grafana
//! ([`generated_files`]): pure functions of the plan, the same bytes in both runtimes.
//!
//! Generated files name services by their bare name (`jaeger:4317`), which resolves in Compose
//! (the service name) and in Kubernetes (the namespace's search domain), so the files are
//! byte-identical in both runtimes.

use std::collections::BTreeMap;

use super::env::order;
use super::model::{EnvSource, NamedPort, ServicePlan, StackPlan};
use super::PlannedFile;
use crate::catalog::metrics;
use crate::error::ValidationErrors;
use crate::template::Template;
use crate::types::DevStackSpec;

mod collector;
mod dot;
mod grafana;
mod model;
mod prometheus;
mod targets;

pub use dot::graph_dot;
pub use model::{
    GeneratedFile, MetricsPlan, ObservabilityPlan, ScrapeEdge, DEFAULT_SCRAPE_INTERVAL_SECONDS,
};
pub use targets::{parse_targets, TargetHealth};

/// Catalog types that receive traces over OTLP.
pub const TRACING_SINKS: &[&str] = &["otel-collector", "jaeger"];
/// The catalog type that scrapes.
pub const PROMETHEUS: &str = "prometheus";

/// Whether `service` is of catalog type `type_name`.
pub(crate) fn is_type(service: &ServicePlan, type_name: &str) -> bool {
    service.type_name.as_deref() == Some(type_name)
}

/// Resolves every service's metrics endpoints and gives the services that depend on a tracing
/// sink their OTLP environment. Errors name the `metrics` field.
pub(super) fn wire(
    spec: &DevStackSpec,
    services: &mut BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    for (name, service) in services.iter_mut() {
        let Some(service_spec) = spec.services.get(name) else {
            continue;
        };
        let path = format!("spec.services.{name}.metrics");
        service.metrics = match (&service.type_name, &service_spec.metrics) {
            (Some(_), Some(_)) => {
                errors.push(
                    path,
                    "catalog services declare their own metrics endpoint (`devstack catalog`); remove metrics",
                );
                Vec::new()
            }
            (Some(type_name), None) => catalog_metrics(service, type_name),
            (None, Some(m)) => custom_metrics(service, m, &path, errors)
                .into_iter()
                .collect(),
            (None, None) => Vec::new(),
        };
    }
    wire_tracing(services);
}

fn catalog_metrics(service: &ServicePlan, type_name: &str) -> Vec<MetricsPlan> {
    metrics::endpoints(type_name)
        .iter()
        .filter_map(|e| {
            let port = service.port(e.port)?;
            Some(MetricsPlan {
                job: job_name(&service.name, e.job),
                port: NamedPort {
                    name: port.name.clone(),
                    number: port.container_port,
                },
                path: e.path.to_string(),
            })
        })
        .collect()
}

fn job_name(service: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        service.to_string()
    } else {
        format!("{service}-{suffix}")
    }
}

fn custom_metrics(
    service: &ServicePlan,
    spec: &devstack_crds::observability::MetricsSpec,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<MetricsPlan> {
    let Some(port) = service.port(&spec.port) else {
        let known: Vec<&str> = service.ports.iter().map(|p| p.name.as_str()).collect();
        errors.push(
            format!("{path}.port"),
            format!(
                "no port named {:?}; use one of the service's ports ({})",
                spec.port,
                if known.is_empty() {
                    "none: declare ports first".to_string()
                } else {
                    known.join(", ")
                }
            ),
        );
        return None;
    };
    let url_path = spec.path.clone().unwrap_or_else(|| "/metrics".to_string());
    let printable = url_path
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '#'));
    if !url_path.starts_with('/') || !printable || url_path.len() > 256 {
        errors.push(
            format!("{path}.path"),
            "must start with '/' and hold at most 256 visible ASCII characters without quotes, '\\' or '#'",
        );
        return None;
    }
    Some(MetricsPlan {
        job: service.name.clone(),
        port: NamedPort {
            name: port.name.clone(),
            number: port.container_port,
        },
        path: url_path,
    })
}

/// The OTLP variables a service that depends on a tracing sink gets (unless it sets them):
/// the endpoint over HTTP of its first collector dependency (else its first jaeger), the
/// protocol, and its own name as the service name. Tracing sinks themselves get none.
fn wire_tracing(services: &mut BTreeMap<String, ServicePlan>) {
    let sinks: BTreeMap<String, &'static str> = services
        .values()
        .filter_map(|s| {
            let t = TRACING_SINKS.iter().find(|t| is_type(s, t))?;
            Some((s.name.clone(), *t))
        })
        .collect();
    for service in services.values_mut() {
        if sinks.contains_key(&service.name) {
            continue;
        }
        let chosen = TRACING_SINKS.iter().find_map(|t| {
            service
                .dependency_names()
                .find(|d| sinks.get(*d) == Some(t))
                .map(str::to_string)
        });
        let Some(sink) = chosen else { continue };
        let vars = [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                Template::lit("http://").push_host(&sink).push_lit(":4318"),
            ),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                Template::lit("http/protobuf"),
            ),
            ("OTEL_SERVICE_NAME", Template::lit(service.name.clone())),
        ];
        let mut env: BTreeMap<String, EnvSource> =
            service.env.drain(..).map(|v| (v.key, v.source)).collect();
        for (key, value) in vars {
            env.entry(key.to_string())
                .or_insert(EnvSource::Template(value));
        }
        service.env = order(env);
    }
}

/// The stack's scrape interval and scrape edges: every active prometheus may reach every other
/// active, running service with metrics, on its metrics ports only. Prometheus scrapes itself
/// on `localhost`, which needs no edge.
pub(super) fn plan(
    spec: &DevStackSpec,
    services: &BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) -> ObservabilityPlan {
    let interval = spec
        .observability
        .as_ref()
        .and_then(|o| o.scrape_interval_seconds);
    let scrape_interval_seconds = match interval {
        None => DEFAULT_SCRAPE_INTERVAL_SECONDS,
        Some(s) if (1..=crate::limits::MAX_SECONDS).contains(&s) => s.unsigned_abs(),
        Some(_) => {
            errors.push(
                "spec.observability.scrapeIntervalSeconds",
                format!("must be within 1-{} seconds", crate::limits::MAX_SECONDS),
            );
            DEFAULT_SCRAPE_INTERVAL_SECONDS
        }
    };
    let mut scrapes = Vec::new();
    for scraper in services
        .values()
        .filter(|s| s.active && is_type(s, PROMETHEUS))
    {
        for target in scraped(services).filter(|t| t.name != scraper.name) {
            for m in &target.metrics {
                scrapes.push(ScrapeEdge {
                    scraper: scraper.name.clone(),
                    target: target.name.clone(),
                    port: m.port.number,
                });
            }
        }
    }
    scrapes.sort();
    scrapes.dedup();
    ObservabilityPlan {
        scrape_interval_seconds,
        scrapes,
    }
}

/// The services a prometheus scrapes: active, at least one replica, with metrics.
fn scraped(services: &BTreeMap<String, ServicePlan>) -> impl Iterator<Item = &ServicePlan> {
    services
        .values()
        .filter(|s| s.active && s.replicas() > 0 && !s.metrics.is_empty())
}

/// Places every service's generated config files ([`generated_files`]) in its `files`, where
/// both renderers mount them; a file the spec already places at the same path wins. The
/// files are checked again with the service's (see `files::check`).
pub(super) fn place_files(plan: &mut StackPlan, errors: &mut ValidationErrors) {
    let generated: Vec<(String, Vec<GeneratedFile>)> = plan
        .services
        .values()
        .map(|s| (s.name.clone(), generated_files(plan, s)))
        .collect();
    for (name, files) in generated {
        let Some(service) = plan.services.get_mut(&name) else {
            continue;
        };
        if files.is_empty() {
            continue;
        }
        for file in files {
            if service.files.iter().any(|f| f.path == file.path) {
                continue;
            }
            service.files.push(PlannedFile::generated(
                file.path,
                file.content,
                file.mode,
                "devstack observability",
            ));
        }
        let data: Vec<&str> = service
            .volumes()
            .iter()
            .map(|v| v.mount_path.as_str())
            .collect();
        super::files::check(
            &service.files,
            &data,
            &format!("spec.services.{name}"),
            errors,
        );
    }
}

/// The config files devstack generates for `service`: `prometheus.yml` for a prometheus, the
/// pipeline of a collector, Grafana's provisioning. Empty for every other service.
pub fn generated_files(plan: &StackPlan, service: &ServicePlan) -> Vec<GeneratedFile> {
    match service.type_name.as_deref() {
        Some(PROMETHEUS) => vec![prometheus::config(plan, service)],
        Some("otel-collector") => vec![collector::config(plan, service)],
        Some("grafana") => grafana::files(plan, service),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
