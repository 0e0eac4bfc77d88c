//! The egress half of strict isolation: `<stack>-<service>-egress` lets a service out to DNS
//! (port 53, UDP and TCP, wherever the cluster's resolver runs: a CoreDNS pod, a node-local
//! cache or a host process) and to its active dependencies' pods on their container ports (all
//! ports for a dependency that declares none). Every other destination is denied by
//! `<stack>-default-deny`, so reachability holds in both directions, as Compose's per-edge
//! networks give it. Documented difference: a Compose network still reaches the internet.

use devstack_core::plan::ServicePlan;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{object_meta, selector, service_labels};
use super::reachability::{services_peer, tcp_ports};
use super::Ctx;

/// Port 53 over UDP and TCP.
fn dns_ports() -> Vec<NetworkPolicyPort> {
    ["UDP", "TCP"]
        .into_iter()
        .map(|protocol| NetworkPolicyPort {
            port: Some(IntOrString::Int(53)),
            protocol: Some(protocol.into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

/// The egress policy of `service`.
pub(super) fn render(ctx: &Ctx, service: &ServicePlan) -> NetworkPolicy {
    let plan = ctx.plan;
    let mut rules = vec![NetworkPolicyEgressRule {
        to: None,
        ports: Some(dns_ports()),
    }];
    for dependency in service
        .dependency_names()
        .filter_map(|d| plan.services.get(d))
        .filter(|d| d.active)
    {
        let ports = tcp_ports(dependency.ports.iter());
        rules.push(NetworkPolicyEgressRule {
            to: Some(vec![services_peer(ctx, vec![dependency.name.clone()])]),
            ports: (!ports.is_empty()).then_some(ports),
        });
    }
    rules.extend(super::scrape::egress(ctx, service));
    let name = format!("{}-{}-egress", plan.name, service.name);
    NetworkPolicy {
        metadata: object_meta(ctx, name, service_labels(ctx, service)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(ctx, &service.name)),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(rules),
            ..NetworkPolicySpec::default()
        }),
    }
}
