//! NetworkPolicies for strict isolation: the reachability graph of the plan.
//!
//! `<stack>-default-deny` denies all ingress to the stack's pods; `<stack>-<service>-ingress`
//! then lets the service's active dependents in on its container ports (the Compose renderer
//! gives each service a network that only it and its dependents join). A service with host
//! ports also accepts any source on those ports: NodePort traffic arrives from the node, not
//! from a pod (in Compose the host port is bound to 127.0.0.1 instead; a documented
//! difference). A service that declares no ports lets its dependents in on every port, as a
//! shared Compose network would.
//!
//! With `isolation: open` no policy is rendered.

use devstack_core::conventions::{LABEL_SERVICE, LABEL_STACK};
use devstack_core::plan::{PortPlan, ServicePlan};
use devstack_core::types::Isolation;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{object_meta, selector, service_labels, stack_labels};
use super::Ctx;

/// The policies of the stack, default-deny first, then by service name.
pub(crate) fn render(ctx: &Ctx) -> Vec<NetworkPolicy> {
    if ctx.plan.isolation != Isolation::Strict {
        return Vec::new();
    }
    let mut policies = vec![default_deny(ctx)];
    policies.extend(ctx.plan.active_services().filter_map(|s| ingress(ctx, s)));
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
            policy_types: Some(vec!["Ingress".into()]),
            ..NetworkPolicySpec::default()
        }),
    }
}

fn tcp_ports<'a>(ports: impl Iterator<Item = &'a PortPlan>) -> Vec<NetworkPolicyPort> {
    ports
        .map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(i32::from(p.container_port))),
            protocol: Some("TCP".into()),
            ..NetworkPolicyPort::default()
        })
        .collect()
}

fn ingress(ctx: &Ctx, service: &ServicePlan) -> Option<NetworkPolicy> {
    let plan = ctx.plan;
    let dependents: Vec<String> = service
        .dependents
        .iter()
        .filter(|d| plan.services.get(*d).is_some_and(|s| s.active))
        .cloned()
        .collect();
    let published: Vec<_> = service
        .ports
        .iter()
        .filter(|p| p.host_port.is_some())
        .collect();
    if dependents.is_empty() && published.is_empty() {
        return None;
    }
    let mut rules = Vec::new();
    if !dependents.is_empty() {
        let ports = tcp_ports(service.ports.iter());
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                pod_selector: Some(LabelSelector {
                    match_labels: Some([(LABEL_STACK.to_string(), plan.name.clone())].into()),
                    match_expressions: Some(vec![LabelSelectorRequirement {
                        key: LABEL_SERVICE.into(),
                        operator: "In".into(),
                        values: Some(dependents),
                    }]),
                }),
                ..NetworkPolicyPeer::default()
            }]),
            ports: (!ports.is_empty()).then_some(ports),
        });
    }
    if !published.is_empty() {
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: "0.0.0.0/0".into(),
                    ..IPBlock::default()
                }),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(tcp_ports(published.into_iter())),
        });
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
    fn strict_renders_default_deny_and_one_policy_per_reachable_service() {
        let plan = plan_spec(STACK);
        let policies = render(&Ctx::new(&plan, crate::RenderOptions::default()));
        assert_eq!(
            names(&policies),
            ["demo-default-deny", "demo-cache-ingress", "demo-db-ingress"]
        );
        let deny = policies[0].spec.as_ref().unwrap();
        assert!(deny.ingress.is_none());
        assert_eq!(
            deny.policy_types.as_deref(),
            Some(&["Ingress".to_string()][..])
        );

        // The inactive dependent (batch) is not let in.
        let cache = policies[1].spec.as_ref().unwrap().ingress.as_ref().unwrap();
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

        // db: dependents on all ports, anyone on the host-ported ones.
        let db = policies[2].spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(db.len(), 2);
        let block = db[1].from.as_ref().unwrap()[0].ip_block.as_ref().unwrap();
        assert_eq!(block.cidr, "0.0.0.0/0");
        assert_eq!(
            db[1].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(5432))
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
        let rules = policies[1].spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert!(rules[0].ports.is_none());
    }
}
