//! The record carried over a restart ([`super::digest`]) against the fake API server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::cache::tests::stores_from;
use super::fixtures::{devstack, path, FakeApi, Recorded, NS};
use super::reconcile::reconcile;

const SMALL: &str = "    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

/// The kinds the caches keep in part, as they appear in request paths.
const PARTIAL: [&str; 5] = [
    "/configmaps",
    "/networkpolicies",
    "/services",
    "/deployments",
    "/statefulsets",
];

/// Paths of the reads (GET: LIST or by name) of the kinds kept in part.
fn reads(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == http::Method::GET)
        .map(|r| r.path.clone())
        .filter(|p| PARTIAL.iter().any(|k| p.contains(k)))
        .collect()
}

#[tokio::test]
async fn after_a_restart_objects_matching_the_digest_are_not_read() {
    let (fake, ctx) = FakeApi::start();
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let stack = fake.stored_stack("demo");
    let digest = stack.status.as_ref().unwrap().observed_objects.clone();
    assert_eq!(digest.as_ref().map(String::len), Some(64), "{digest:?}");
    // A restart: the record is empty, the caches hold what the API server holds.
    let recorded = ctx.verified.len();
    ctx.verified.clear();
    ctx.caches
        .register(Some(NS.to_string()), stores_from(&fake));
    fake.take_requests();
    reconcile(fake.stack(stack), ctx.clone()).await.unwrap();
    let requests = fake.take_requests();
    assert_eq!(
        reads(&requests),
        Vec::<String>::new(),
        "read after a restart"
    );
    let writes: Vec<&str> = requests
        .iter()
        .filter(|r| r.method != http::Method::GET)
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(writes, Vec::<&str>::new(), "an unchanged stack written");
    assert_eq!(ctx.verified.len(), recorded, "record restored");
}

#[tokio::test]
async fn an_object_edited_while_the_operator_was_down_is_read_and_repaired() {
    let (fake, ctx) = FakeApi::start();
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let before = fake.stored_stack("demo").status.unwrap().observed_objects;
    ctx.verified.clear();
    // While the operator is down, the api Service is edited (its resourceVersion moves).
    let mut service = fake.get("services", "api").unwrap();
    let port = service["spec"]["ports"][0]["port"].clone();
    service["spec"]["ports"][0]["port"] = serde_json::json!(9999);
    service["metadata"]["resourceVersion"] = serde_json::json!("edited");
    fake.put("services", service);
    ctx.caches
        .register(Some(NS.to_string()), stores_from(&fake));
    fake.take_requests();
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    let requests = fake.take_requests();
    let reads = reads(&requests);
    assert!(
        reads.contains(&format!("/api/v1/namespaces/{NS}/services")),
        "the digest no longer matches: the Services are listed ({reads:?})"
    );
    let service_path = path("services", "api");
    let writes: Vec<&str> = requests
        .iter()
        .filter(|r| r.is_object_write())
        .map(|r| r.path.as_str())
        .collect();
    assert!(writes.contains(&service_path.as_str()), "{writes:?}");
    let repaired = fake.get("services", "api").unwrap();
    assert_eq!(repaired["spec"]["ports"][0]["port"], port);
    let after = fake.stored_stack("demo").status.unwrap().observed_objects;
    assert!(
        after.is_some() && after != before,
        "the digest follows the repair"
    );
}
