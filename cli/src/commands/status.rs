//! `devstack status`: per service, container state, health, host ports, image, uptime, and,
//! when the stack has a prometheus, whether the service's metrics targets are up.

use std::collections::BTreeMap;

use anyhow::Result;
use devstack_core::plan::observability::{TargetHealth, PROMETHEUS};
use devstack_core::plan::StackPlan;
use devstack_docker::ops::StatusRow;
use devstack_docker::{Engine, Stack};
use serde::Serialize;

use crate::output::{self, Format};

/// A status row with the scrape health of the service's metrics.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The container's status.
    #[serde(flatten)]
    pub row: StatusRow,
    /// `up`, `down (error)`, `unknown`: the service's metrics targets in the stack's
    /// prometheus; absent when the service has no metrics or the stack no prometheus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

/// Prints the status rows as a table or JSON.
pub async fn run(plan: &StackPlan, root: &std::path::Path, format: Format) -> Result<()> {
    let engine = Engine::connect().await?;
    let stack = Stack::open_for(plan, root, engine.features)?;
    let rows = stack.status(&engine).await?;
    let health = devstack_docker::targets::metrics_health(&engine.docker, plan).await;
    let rows = with_metrics(plan, rows, health.as_ref());
    output::print_rows(format, &rows, table)
}

/// Each row with the scrape health of its service (see [`Row::metrics`]).
pub fn with_metrics(
    plan: &StackPlan,
    rows: Vec<StatusRow>,
    health: Option<&BTreeMap<String, TargetHealth>>,
) -> Vec<Row> {
    let has_prometheus = plan
        .active_services()
        .any(|s| s.type_name.as_deref() == Some(PROMETHEUS));
    rows.into_iter()
        .map(|row| {
            let scraped = plan
                .services
                .get(&row.service)
                .is_some_and(|s| !s.metrics.is_empty());
            let metrics = (has_prometheus && scraped).then(|| match health {
                None => "unknown (prometheus does not answer)".to_string(),
                Some(h) => h
                    .get(&row.service)
                    .map_or_else(|| "not scraped yet".to_string(), ToString::to_string),
            });
            Row { row, metrics }
        })
        .collect()
}

/// The status rows as a table (a METRICS column when some service's metrics are scraped).
pub fn table(rows: &[Row]) -> String {
    const HEADER: [&str; 8] = [
        "SERVICE",
        "CONTAINER",
        "STATE",
        "HEALTH",
        "PORTS",
        "IMAGE",
        "STATUS",
        "METRICS",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|Row { row: r, metrics }| {
            [
                r.service.clone(),
                r.container.clone(),
                r.state.clone(),
                r.health.clone(),
                if r.ports.is_empty() {
                    "-".to_string()
                } else {
                    r.ports.join(",")
                },
                r.image.clone(),
                r.status.clone(),
                metrics.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    if rows.iter().any(|r| r.metrics.is_some()) {
        return output::table(HEADER, &cells);
    }
    let without: Vec<[String; 7]> = cells
        .into_iter()
        .map(|[a, b, c, d, e, f, g, _]| [a, b, c, d, e, f, g])
        .collect();
    let [a, b, c, d, e, f, g, _] = HEADER;
    output::table([a, b, c, d, e, f, g], &without)
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    fn row(service: &str) -> StatusRow {
        StatusRow {
            service: service.into(),
            container: format!("demo-{service}-1"),
            state: "running".into(),
            health: "-".into(),
            ports: Vec::new(),
            image: "x".into(),
            status: "Up".into(),
        }
    }

    #[test]
    fn the_metrics_column_shows_scrape_health_only_with_a_prometheus() {
        let plan = plan_spec(
            "services:\n  prom: {type: prometheus}\n  api: {image: a:1, ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n  db: {type: postgres}\n",
        );
        let rows = || vec![row("api"), row("db"), row("prom")];
        let health = BTreeMap::from([
            ("api".to_string(), TargetHealth::Down("refused".into())),
            ("prom".to_string(), TargetHealth::Up),
        ]);
        let out = with_metrics(&plan, rows(), Some(&health));
        let metrics: Vec<Option<&str>> = out.iter().map(|r| r.metrics.as_deref()).collect();
        assert_eq!(metrics, [Some("down (refused)"), None, Some("up")]);
        let text = table(&out);
        assert!(text.lines().next().is_some_and(|h| h.ends_with("METRICS")));
        let json = serde_json::to_value(&out).expect("json");
        assert_eq!(json[2]["metrics"], "up");
        assert_eq!(json[2]["service"], "prom");
        assert!(json[1].get("metrics").is_none());
        let silent = with_metrics(&plan, rows(), None);
        assert_eq!(
            silent[0].metrics.as_deref(),
            Some("unknown (prometheus does not answer)")
        );
        // No prometheus: no column.
        let plan = plan_spec("services:\n  db: {type: postgres}\n");
        let out = with_metrics(&plan, vec![row("db")], None);
        assert!(!table(&out).contains("METRICS"));
    }
}
