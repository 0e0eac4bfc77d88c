//! The scrape edges of strict isolation: a prometheus may open connections to each target it
//! scrapes on the target's metrics ports only (the plan's `observability.scrapes`), as an
//! extra egress rule of the prometheus and an extra ingress rule of the target. Nothing else
//! reaches prometheus, and prometheus reaches nothing else.

use std::collections::BTreeMap;

use devstack_core::plan::ServicePlan;
use k8s_openapi::api::networking::v1::{
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::reachability::services_peer;
use super::Ctx;

fn tcp(ports: &[u16]) -> Vec<NetworkPolicyPort> {
    ports
        .iter()
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(*p))),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

/// Other end → ports, for the edges `edges` yields as (other end, port).
fn grouped<'a>(edges: impl Iterator<Item = (&'a str, u16)>) -> BTreeMap<&'a str, Vec<u16>> {
    let mut out: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for (other, port) in edges {
        out.entry(other).or_default().push(port);
    }
    out
}

/// Ingress rules letting each prometheus that scrapes `service` in on its metrics ports.
pub(super) fn ingress(ctx: &Ctx, service: &ServicePlan) -> Vec<NetworkPolicyIngressRule> {
    let edges = ctx.plan.observability.scrapers_of(&service.name);
    grouped(edges.map(|e| (e.scraper.as_str(), e.port)))
        .into_iter()
        .map(|(scraper, ports)| NetworkPolicyIngressRule {
            from: Some(vec![services_peer(ctx, vec![scraper.to_string()])]),
            ports: Some(tcp(&ports)),
        })
        .collect()
}

/// Egress rules letting a prometheus out to each target's metrics ports.
pub(super) fn egress(ctx: &Ctx, service: &ServicePlan) -> Vec<NetworkPolicyEgressRule> {
    let edges = ctx.plan.observability.targets_of(&service.name);
    grouped(edges.map(|e| (e.target.as_str(), e.port)))
        .into_iter()
        .map(|(target, ports)| NetworkPolicyEgressRule {
            to: Some(vec![services_peer(ctx, vec![target.to_string()])]),
            ports: Some(tcp(&ports)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    const STACK: &str = "services:
  prom: {type: prometheus}
  api:
    image: ghcr.io/acme/api:1
    ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9000}]
    metrics: {port: admin}
  lonely: {image: ghcr.io/acme/lonely:1, ports: [{name: http, containerPort: 80}]}
";

    fn policy<'a>(policies: &'a [NetworkPolicy], name: &str) -> &'a NetworkPolicy {
        policies
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no policy {name}"))
    }

    fn peer_and_ports(
        peers: Option<&Vec<k8s_openapi::api::networking::v1::NetworkPolicyPeer>>,
        ports: Option<&Vec<NetworkPolicyPort>>,
    ) -> (Vec<String>, Vec<IntOrString>) {
        let services = peers.unwrap()[0]
            .pod_selector
            .as_ref()
            .unwrap()
            .match_expressions
            .as_ref()
            .unwrap()[0]
            .values
            .clone()
            .unwrap();
        let ports = ports
            .unwrap()
            .iter()
            .filter_map(|p| p.port.clone())
            .collect();
        (services, ports)
    }

    #[test]
    fn prometheus_reaches_each_target_on_its_metrics_port_only() {
        let plan = plan_spec(STACK);
        let policies =
            crate::reachability::render(&Ctx::new(&plan, crate::RenderOptions::default()));
        // The target admits prometheus on the metrics port, not on http.
        let api_in = policy(&policies, "demo-api-ingress").spec.clone().unwrap();
        let rules = api_in.ingress.unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            peer_and_ports(rules[0].from.as_ref(), rules[0].ports.as_ref()),
            (vec!["prom".to_string()], vec![IntOrString::Int(9000)])
        );
        // Prometheus goes out to DNS and to that port; it is scraped by nobody else.
        let prom_out = policy(&policies, "demo-prom-egress").spec.clone().unwrap();
        let rules = prom_out.egress.unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            peer_and_ports(rules[1].to.as_ref(), rules[1].ports.as_ref()),
            (vec!["api".to_string()], vec![IntOrString::Int(9000)])
        );
        // A service without metrics or edges: no ingress policy, so nothing reaches it, and
        // no rule of prometheus names it.
        assert!(policies
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some("demo-lonely-ingress")));
        assert!(policies
            .iter()
            .all(|p| p.metadata.name.as_deref() != Some("demo-prom-ingress")));
    }
}
