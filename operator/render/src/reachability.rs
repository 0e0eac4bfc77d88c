//! NetworkPolicies for strict isolation: the reachability graph of the plan, in both
//! directions.
//!
//! `<stack>-default-deny` denies all ingress and egress of the stack's pods;
//! `<stack>-<service>-ingress` then lets the service's active dependents in on its container
//! ports, and `<stack>-<service>-egress` (see `egress`) lets the service out to DNS and to its
//! active dependencies' ports (the Compose renderer gives each edge a network that only its two
//! services join). A service that declares no ports lets its dependents in on every port, as a
//! shared Compose network would.
//!
//! Published ports need no rule of their own: kube-proxy forwards NodePort traffic with the
//! receiving node's address as the source, and traffic from a pod's own node is always allowed
//! (so nothing but the nodes reaches a published port, where Compose binds 127.0.0.1). Before,
//! any source (`0.0.0.0/0`) was let in on them, past strict isolation.
//!
//! A prometheus's scrape edges add a rule on each side, on the metrics ports only (`scrape`).
//!
//! With `isolation: open` no policy is rendered.

use devstack_core::conventions::{LABEL_SERVICE, LABEL_STACK};
use devstack_core::plan::{PortPlan, ServicePlan};
use devstack_core::types::Isolation;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::egress;
use super::labels::{object_meta, selector, service_labels, stack_labels};
use super::Ctx;

/// The policies of the stack: default-deny first, then each service's egress and ingress
/// policies, by name.
pub(crate) fn render(ctx: &Ctx) -> Vec<NetworkPolicy> {
    if ctx.plan.isolation != Isolation::Strict {
        return Vec::new();
    }
    let mut policies = vec![default_deny(ctx)];
    for service in ctx.plan.active_services() {
        policies.push(egress::render(ctx, service));
        policies.extend(ingress(ctx, service));
    }
    policies
}

fn default_deny(ctx: &Ctx) -> NetworkPolicy {
    let name = format!("{}-default-deny", ctx.plan.name);
    NetworkPolicy {
        metadata: object_meta(ctx, name, stack_labels(ctx)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some([(LABEL_STACK.to_string(), ctx.plan.name.clone())].into()),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// The TCP ports of `ports`, as policy ports.
pub(super) fn tcp_ports<'a>(ports: impl Iterator<Item = &'a PortPlan>) -> Vec<NetworkPolicyPort> {
    ports
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(p.container_port))),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

/// A peer selecting the pods of `services` of this stack.
pub(super) fn services_peer(ctx: &Ctx, services: Vec<String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some([(LABEL_STACK.to_string(), ctx.plan.name.clone())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: LABEL_SERVICE.into(),
                operator: "In".into(),
                values: Some(services),
            }]),
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn ingress(ctx: &Ctx, service: &ServicePlan) -> Option<NetworkPolicy> {
    let plan = ctx.plan;
    let dependents: Vec<String> = service
        .dependents
        .iter()
        .filter(|d| plan.services.get(*d).is_some_and(|s| s.active))
        .cloned()
        .collect();
    let mut rules = Vec::new();
    if !dependents.is_empty() {
        let ports = tcp_ports(service.ports.iter());
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![services_peer(ctx, dependents)]),
            ports: (!ports.is_empty()).then_some(ports),
        });
    }
    rules.extend(super::scrape::ingress(ctx, service));
    if rules.is_empty() {
        return None;
    }
    let name = format!("{}-{}-ingress", plan.name, service.name);
    Some(NetworkPolicy {
        metadata: object_meta(ctx, name, service_labels(ctx, service)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(ctx, &service.name)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(rules),
            ..NetworkPolicySpec::default()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    const STACK: &str = r#"
services:
  db: {type: postgres, hostPorts: {postgres: 5433}}
  cache: {type: redis}
  lonely: {type: redis}
  api:
    image: ghcr.io/acme/api:1
    ports: [{name: http, containerPort: 8080}]
    dependsOn: [db, cache]
  batch:
    image: ghcr.io/acme/batch:1
    profiles: [jobs]
    dependsOn: [cache]
"#;

    fn names(policies: &[NetworkPolicy]) -> Vec<&str> {
        policies
            .iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn strict_renders_default_deny_and_each_services_ingress_and_egress() {
        let plan = plan_spec(STACK);
        let policies = render(&Ctx::new(&plan, crate::RenderOptions::default()));
        assert_eq!(
            names(&policies),
            [
                "demo-default-deny",
                "demo-api-egress",
                "demo-cache-egress",
                "demo-cache-ingress",
                "demo-db-egress",
                "demo-db-ingress",
                "demo-lonely-egress",
            ]
        );
        let deny = policies[0].spec.as_ref().unwrap();
        assert!(deny.ingress.is_none() && deny.egress.is_none());
        assert_eq!(
            deny.policy_types.as_deref(),
            Some(&["Ingress".to_string(), "Egress".to_string()][..])
        );

        // The inactive dependent (batch) is not let in.
        let cache = policies[3].spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(cache.len(), 1);
        let peer = &cache[0].from.as_ref().unwrap()[0];
        let expr = &peer
            .pod_selector
            .as_ref()
            .unwrap()
            .match_expressions
            .as_ref()
            .unwrap()[0];
        assert_eq!(expr.values.as_deref(), Some(&["api".to_string()][..]));
        assert_eq!(
            cache[0].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(6379))
        );

        // db: only its dependents, on its ports; the published port admits no other source.
        let db = policies[5].spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(db.len(), 1);
        assert!(db[0].from.as_ref().unwrap()[0].ip_block.is_none());

        // api: out to DNS, db and cache on their ports, nowhere else.
        let api = policies[1].spec.as_ref().unwrap();
        assert_eq!(
            api.policy_types.as_deref(),
            Some(&["Egress".to_string()][..])
        );
        let rules = api.egress.as_ref().unwrap();
        assert_eq!(rules.len(), 3);
        assert!(rules[0].to.is_none());
        let dns: Vec<_> = rules[0]
            .ports
            .iter()
            .flatten()
            .map(|p| (p.port.clone(), p.protocol.clone()))
            .collect();
        assert_eq!(
            dns,
            [
                (Some(IntOrString::Int(53)), Some("UDP".into())),
                (Some(IntOrString::Int(53)), Some("TCP".into()))
            ]
        );
        let targets: Vec<_> = rules[1..]
            .iter()
            .map(|r| {
                let selector = r.to.as_ref().unwrap()[0].pod_selector.as_ref().unwrap();
                let values = selector.match_expressions.as_ref().unwrap()[0]
                    .values
                    .clone()
                    .unwrap();
                (values, r.ports.as_ref().unwrap()[0].port.clone())
            })
            .collect();
        assert_eq!(
            targets,
            [
                (vec!["db".to_string()], Some(IntOrString::Int(5432))),
                (vec!["cache".to_string()], Some(IntOrString::Int(6379))),
            ]
        );
        // lonely depends on nothing: DNS only.
        assert_eq!(
            policies[6]
                .spec
                .as_ref()
                .unwrap()
                .egress
                .as_ref()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn open_isolation_renders_no_policies() {
        let plan = plan_spec(&format!("isolation: open\n{STACK}"));
        assert!(render(&Ctx::new(&plan, crate::RenderOptions::default())).is_empty());
    }

    #[test]
    fn portless_dependency_admits_dependents_on_every_port() {
        let plan = plan_spec("services:\n  worker: {image: busybox:1}\n  app: {image: busybox:1, dependsOn: [worker]}\n");
        let policies = render(&Ctx::new(&plan, crate::RenderOptions::default()));
        // default-deny, app-egress, worker-egress, worker-ingress
        let rules = policies[3].spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert!(rules[0].ports.is_none());
        let out = policies[1].spec.as_ref().unwrap().egress.as_ref().unwrap();
        assert!(
            out[1].ports.is_none(),
            "a portless dependency is reached on every port"
        );
    }
}
