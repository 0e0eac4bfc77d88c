//! Reachability in the Compose rendering: under strict isolation a network per dependency
//! edge (and one for a service with none), so the Compose graph equals the plan's; open
//! isolation renders no networks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod support;

use devstack_core::test_support::plan_yaml;
use support::*;

#[test]
fn strict_networks_one_per_edge_and_solo() {
    let doc = doc(&plan_yaml(APP));
    let nets = |s: &str| strings(&service(&doc, s)["networks"]);
    assert_eq!(
        nets("api"),
        [
            "edge_api_worker",
            "edge_postgres_api",
            "edge_redis_api",
            "edge_sidecar_api"
        ]
    );
    assert_eq!(nets("postgres"), ["edge_postgres_api"]);
    assert_eq!(nets("redis"), ["edge_redis_api", "edge_redis_worker"]);
    assert_eq!(nets("sidecar"), ["edge_sidecar_api"]);
    assert_eq!(nets("worker"), ["edge_api_worker", "edge_redis_worker"]);
    assert_eq!(nets("lonely"), ["solo_lonely"]);
    assert_eq!(
        keys(&doc["networks"]),
        [
            "edge_api_worker",
            "edge_postgres_api",
            "edge_redis_api",
            "edge_redis_worker",
            "edge_sidecar_api",
            "solo_lonely"
        ]
    );
    assert_eq!(
        doc["networks"]["solo_lonely"]["labels"]["devstack.dev/stack"],
        "app"
    );
}

#[test]
fn strict_reachability_equals_the_dependency_graph() {
    // Two services can talk iff they share a network iff one depends on the other.
    let plan = plan_yaml(APP);
    let doc = doc(&plan);
    let nets = |s: &str| strings(&service(&doc, s)["networks"]);
    for a in plan.services.keys() {
        for b in plan.services.keys().filter(|b| *b != a) {
            let share = nets(a).iter().any(|n| nets(b).contains(n));
            let depends = |x: &str, y: &str| plan.services[x].dependency_names().any(|d| d == y);
            let edge = depends(a, b) || depends(b, a);
            assert_eq!(share, edge, "{a} <-> {b}");
        }
    }
}

#[test]
fn open_isolation_has_no_networks() {
    let yaml = APP.replace("spec:\n", "spec:\n  isolation: open\n");
    let doc = doc(&plan_yaml(&yaml));
    assert!(doc.get("networks").is_none());
    for name in keys(&doc["services"]) {
        assert!(service(&doc, &name).get("networks").is_none(), "{name}");
    }
}
