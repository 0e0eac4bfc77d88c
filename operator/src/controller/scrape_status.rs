//! Per-service scrape health in the DevStack status: when the stack has a prometheus that is
//! ready, its `/api/v1/targets` is read through the API server's service proxy (no network
//! path from the operator's pod is needed under strict isolation) and each service with
//! metrics gets `metrics: up | down (…) | unknown`.

use std::collections::BTreeMap;

use devstack_core::plan::observability::{parse_targets, TargetHealth, PROMETHEUS};
use devstack_core::plan::StackPlan;
use devstack_core::types::ServiceStatus;
use kube::Client;
use tracing::debug;

/// The scrape health of every scraped service, by service; `None` when the stack has no ready
/// prometheus or it does not answer.
pub(crate) async fn metrics_health(
    client: &Client,
    namespace: &str,
    plan: &StackPlan,
    services: &BTreeMap<String, ServiceStatus>,
) -> Option<BTreeMap<String, TargetHealth>> {
    let prometheus = plan
        .active_services()
        .find(|s| s.type_name.as_deref() == Some(PROMETHEUS))?;
    if !services.get(&prometheus.name).is_some_and(|s| s.ready) {
        return None;
    }
    let port = prometheus.port("http")?.container_port;
    let path = format!(
        "/api/v1/namespaces/{namespace}/services/{}:{port}/proxy/api/v1/targets?state=active",
        prometheus.name
    );
    let request = ::http::Request::get(path).body(Vec::new()).ok()?;
    match client.request_text(request).await {
        Ok(text) => parse_targets(&text),
        Err(error) => {
            debug!(%error, "prometheus targets not readable");
            None
        }
    }
}

/// Writes each scraped service's health into its status (`unknown` until prometheus answers).
pub(crate) fn annotate(
    statuses: &mut BTreeMap<String, ServiceStatus>,
    plan: &StackPlan,
    health: Option<&BTreeMap<String, TargetHealth>>,
) {
    let has_prometheus = plan
        .active_services()
        .any(|s| s.type_name.as_deref() == Some(PROMETHEUS));
    if !has_prometheus {
        return;
    }
    for service in plan.active_services().filter(|s| !s.metrics.is_empty()) {
        if let Some(status) = statuses.get_mut(&service.name) {
            let text = health
                .and_then(|h| h.get(&service.name))
                .map_or_else(|| TargetHealth::Unknown.to_string(), ToString::to_string);
            status.metrics = Some(super::status::bounded(&text));
        }
    }
}

/// Whether some service's metrics are not `up` yet: the status is then refreshed at the
/// progress interval rather than the resync one.
pub(crate) fn pending(statuses: &BTreeMap<String, ServiceStatus>) -> bool {
    statuses
        .values()
        .any(|s| s.metrics.as_deref().is_some_and(|m| m != "up"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn scraped_services_get_their_target_health() {
        let plan = plan_spec(
            "services:\n  prom: {type: prometheus}\n  api: {image: a:1, ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n  db: {type: postgres}\n",
        );
        let mut statuses: BTreeMap<String, ServiceStatus> = ["api", "db", "prom"]
            .into_iter()
            .map(|s| (s.to_string(), ServiceStatus::default()))
            .collect();
        let health = BTreeMap::from([("prom".to_string(), TargetHealth::Up)]);
        annotate(&mut statuses, &plan, Some(&health));
        assert_eq!(statuses["prom"].metrics.as_deref(), Some("up"));
        assert_eq!(statuses["api"].metrics.as_deref(), Some("unknown"));
        assert_eq!(statuses["db"].metrics, None);
        assert!(pending(&statuses));
        statuses.get_mut("api").unwrap().metrics = Some("up".into());
        assert!(!pending(&statuses));
    }
}
