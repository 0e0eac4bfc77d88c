//! Reachability as Compose networks, equal to the Kubernetes NetworkPolicy graph.
//!
//! - `open`: no networks at all; every service is on the project's `default` network.
//! - `strict`: one network per dependency edge, `edge_<dependency>_<dependent>`, joined by
//!   exactly those two services; a service without edges joins `solo_<service>` alone (it can
//!   still publish ports but reaches nobody). Service names never contain `_`, so the names are
//!   unique.
//!
//! - each scrape edge of a prometheus gets `scrape_<target>_<prometheus>`, joined by the two.
//!
//! Documented differences: Compose networks are symmetric (the dependency can also open
//! connections to its dependent), NetworkPolicies are directional; and a network does not
//! restrict ports, so a prometheus reaches its targets on every port, where the
//! NetworkPolicies admit the metrics ports only.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::types::Isolation;
use devstack_core::StackPlan;

/// Which networks each service joins, and which networks exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Service name → its networks (sorted). Absent: the default network only.
    pub by_service: BTreeMap<String, BTreeSet<String>>,
    /// Every network to declare at the top level.
    pub networks: BTreeSet<String>,
}

/// Name of the network of the edge `dependent → dependency`.
pub fn edge_network(dependency: &str, dependent: &str) -> String {
    format!("edge_{dependency}_{dependent}")
}

/// Name of the network of the scrape edge `scraper → target` (a prometheus and a service with
/// metrics; see `devstack_core::plan::observability`).
pub fn scrape_network(target: &str, scraper: &str) -> String {
    format!("scrape_{target}_{scraper}")
}

/// Name of the network of a service without edges.
pub fn solo_network(service: &str) -> String {
    format!("solo_{service}")
}

/// Assigns networks to every service of `plan` (inactive ones too, so enabling a profile
/// keeps the graph intact).
pub fn assign(plan: &StackPlan) -> Assignment {
    let mut assignment = Assignment::default();
    if plan.isolation == Isolation::Open {
        return assignment;
    }
    for service in plan.services.values() {
        for dependency in service.dependency_names() {
            let network = edge_network(dependency, &service.name);
            for member in [dependency, &service.name] {
                assignment
                    .by_service
                    .entry(member.to_string())
                    .or_default()
                    .insert(network.clone());
            }
            assignment.networks.insert(network);
        }
    }
    for edge in &plan.observability.scrapes {
        let network = scrape_network(&edge.target, &edge.scraper);
        for member in [&edge.target, &edge.scraper] {
            assignment
                .by_service
                .entry(member.clone())
                .or_default()
                .insert(network.clone());
        }
        assignment.networks.insert(network);
    }
    for name in plan.services.keys() {
        if !assignment.by_service.contains_key(name) {
            let network = solo_network(name);
            assignment
                .by_service
                .insert(name.clone(), BTreeSet::from([network.clone()]));
            assignment.networks.insert(network);
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn each_scrape_edge_gets_a_network_of_its_own() {
        let plan = plan_spec(
            "services:\n  prom: {type: prometheus}\n  api: {image: a:1, ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n  lonely: {image: l:1}\n",
        );
        let assignment = assign(&plan);
        let of = |s: &str| assignment.by_service[s].iter().cloned().collect::<Vec<_>>();
        assert_eq!(of("api"), ["scrape_api_prom"]);
        assert_eq!(of("prom"), ["scrape_api_prom"]);
        assert_eq!(of("lonely"), ["solo_lonely"]);
    }
}
