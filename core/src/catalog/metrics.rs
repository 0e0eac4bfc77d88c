//! Which catalog types serve Prometheus metrics natively, on which port and path, and why the
//! others do not. Checked against each project's documentation; no exporter is invented: a
//! type without a native endpoint is listed with the reason, and the stack's prometheus does
//! not scrape it.

use serde::Serialize;

/// A native Prometheus endpoint of a catalog type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MetricsEndpoint {
    /// Scrape job suffix: empty for the type's main endpoint (job `<service>`), otherwise the
    /// job is `<service>-<job>` (the collector's exporter endpoint).
    pub job: &'static str,
    /// Name of the catalog port that serves it.
    pub port: &'static str,
    /// HTTP path.
    pub path: &'static str,
}

/// What a catalog type offers Prometheus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Metrics {
    /// Native endpoints, scraped by the stack's prometheus.
    Native(&'static [MetricsEndpoint]),
    /// No native endpoint (an exporter would be needed), with the reason.
    None(&'static str),
}

const fn main(port: &'static str, path: &'static str) -> MetricsEndpoint {
    MetricsEndpoint {
        job: "",
        port,
        path,
    }
}

/// Every catalog type, by name: its native metrics or why it has none.
pub static TABLE: &[(&str, Metrics)] = &[
    ("chroma", Metrics::None("exports OpenTelemetry traces only")),
    (
        "clickhouse",
        Metrics::None("the prometheus endpoint is off unless configured in config.xml"),
    ),
    (
        "elasticsearch",
        Metrics::None("needs elasticsearch_exporter"),
    ),
    ("grafana", Metrics::Native(&[main("http", "/metrics")])),
    // Jaeger v2's internal telemetry: `${JAEGER_LISTEN_HOST}:8888` in its all-in-one config.
    ("jaeger", Metrics::Native(&[main("metrics", "/metrics")])),
    ("kafka", Metrics::None("JMX only; needs a JMX exporter")),
    ("keydb", Metrics::None("needs redis_exporter")),
    // `MINIO_PROMETHEUS_AUTH_TYPE=public` (set by the entry) lifts the bearer token.
    (
        "minio",
        Metrics::Native(&[main("s3", "/minio/v2/metrics/cluster")]),
    ),
    ("mongodb", Metrics::None("needs mongodb_exporter")),
    (
        "nats",
        Metrics::None("the monitor port serves JSON; needs prometheus-nats-exporter"),
    ),
    (
        "neo4j",
        Metrics::None("the prometheus endpoint is Enterprise Edition only"),
    ),
    ("ollama", Metrics::None("no metrics endpoint")),
    (
        "opensearch",
        Metrics::None("needs the prometheus-exporter plugin"),
    ),
    // Internal telemetry (the generated config binds it to all interfaces) and the prometheus
    // exporter of the generated metrics pipeline.
    (
        "otel-collector",
        Metrics::Native(&[
            main("metrics", "/metrics"),
            MetricsEndpoint {
                job: "exporter",
                port: "exporter",
                path: "/metrics",
            },
        ]),
    ),
    ("pgvector", Metrics::None("needs postgres_exporter")),
    ("postgres", Metrics::None("needs postgres_exporter")),
    ("prometheus", Metrics::Native(&[main("http", "/metrics")])),
    (
        "qdrant",
        Metrics::None("/metrics requires the API key the stack sets"),
    ),
    // The rabbitmq_prometheus plugin (enabled in the official image and the local one).
    (
        "rabbitmq",
        Metrics::Native(&[main("prometheus", "/metrics")]),
    ),
    ("redis", Metrics::None("needs redis_exporter")),
    ("timescaledb", Metrics::None("needs postgres_exporter")),
    ("valkey", Metrics::None("needs redis_exporter")),
    (
        "versitygw",
        Metrics::None("sends metrics to StatsD / DogStatsD only"),
    ),
    (
        "weaviate",
        Metrics::None("off unless PROMETHEUS_MONITORING_ENABLED; not enabled by the catalog"),
    ),
];

/// The metrics of catalog type `type_name` (`None` for a type missing from the table).
pub fn of(type_name: &str) -> Option<Metrics> {
    TABLE
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, m)| *m)
}

/// The native endpoints of `type_name` (empty when it has none).
pub fn endpoints(type_name: &str) -> &'static [MetricsEndpoint] {
    match of(type_name) {
        Some(Metrics::Native(endpoints)) => endpoints,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{lookup, ENTRIES};

    #[test]
    fn every_type_is_listed_once_and_every_endpoint_names_a_port_of_its_type() {
        let names: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
        let types: Vec<&str> = ENTRIES.iter().map(|e| e.type_name).collect();
        assert_eq!(
            names, types,
            "list every catalog type in catalog::metrics::TABLE (native endpoints or why none)"
        );
        for (name, metrics) in TABLE {
            let entry = lookup(name).expect("a catalog type");
            if let Metrics::Native(endpoints) = metrics {
                for e in *endpoints {
                    assert!(entry.port(e.port).is_some(), "{name}: no port {:?}", e.port);
                    assert!(e.path.starts_with('/'));
                }
            }
        }
    }
}
