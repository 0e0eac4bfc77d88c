//! K1's path (session 6): the workloads of one dependency level are created together, not one
//! after the other, and a level still waits for the one before it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use http::Method;

use super::create_tests::empty_stores;
use super::fixtures::{devstack, FakeApi, NS};
use super::reconcile::reconcile;

/// Two services with no dependency, a third on both, a fourth on the third.
const LEVELS: &str = "    a: {image: 'ghcr.io/acme/a:1'}\n    b: {image: 'ghcr.io/acme/b:1'}\n    c: {image: 'ghcr.io/acme/c:1', dependsOn: [a, b]}\n    d: {image: 'ghcr.io/acme/d:1', dependsOn: [c]}\n";

fn deployments() -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments")
}

/// The names of the Deployments created, in the order the fake answered them.
fn created(fake: &FakeApi) -> Vec<String> {
    fake.take_requests()
        .into_iter()
        .filter(|r| r.method == Method::POST && r.path == deployments())
        .map(|r| r.body["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_levels_workloads_are_created_together() {
    let (fake, ctx) = FakeApi::start();
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    // The first two creates are answered only once both have arrived: sent one after the
    // other, the first would wait forever.
    fake.gate(Method::POST, &deployments(), 2);
    let pass = reconcile(fake.stack(devstack(LEVELS)), ctx);
    tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("a and b were not created together")
        .unwrap();
    // The fake answers every workload Ready, so the later levels follow in the same pass,
    // each after the one it depends on.
    let order = created(&fake);
    assert_eq!(order.len(), 4, "{order:?}");
    let mut first_two = order[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["a", "b"]);
    assert_eq!(order[2..], ["c", "d"]);
}

#[tokio::test]
async fn a_level_waits_for_the_level_before() {
    let (fake, ctx) = FakeApi::start();
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    // b is created but not ready: c (on a and b) and d (on c) are not created in this pass.
    fake.status_on_apply(
        "apps/v1/deployments",
        "b",
        serde_json::json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0}),
    );
    reconcile(fake.stack(devstack(LEVELS)), ctx).await.unwrap();
    let mut order = created(&fake);
    order.sort();
    assert_eq!(order, ["a", "b"]);
}
