//! Requests per stack (issue 21, K2): a new stack's credentials created without a read first,
//! and what that must never cost — existing credentials that the watch cache does not hold yet
//! are read after the create fails and kept, a foreign Secret of that name is refused; one
//! `Applied` Event per rollout; a progressing stack's status writes coalesced ([`super::hold`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::ByteString;
use kube::runtime::controller::Action;
use serde_json::json;

use super::create_tests::empty_stores;
use super::fixtures::{devstack, path, FakeApi, NS};
use super::hold::HOLD;
use super::reconcile::reconcile;
use super::report::PROGRESS_CHECK;

const SMALL: &str = "    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

fn b64(value: &str) -> serde_json::Value {
    serde_json::to_value(ByteString(value.as_bytes().to_vec())).unwrap()
}

fn decoded(value: &serde_json::Value) -> String {
    let bytes: ByteString = serde_json::from_value(value.clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// The stack's own credentials Secret (labelled for it, no owner reference), as the finalizer
/// leaves it with retained data or as another replica created it a moment ago.
fn own_credentials(password: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "demo-credentials", "namespace": NS, "uid": "uid-cred",
            "resourceVersion": "3",
            "labels": {"devstack.dev/stack": "demo", "app.kubernetes.io/managed-by": "devstack"}},
        "data": {"DEVSTACK_DB_PASSWORD": b64(password)}})
}

fn stalled(fake: &FakeApi) -> Option<(String, String)> {
    let status = fake.stored_stack("demo").status.unwrap_or_default();
    status
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled" && c.status == "True")
        .map(|c| (c.reason, c.message))
}

/// Every request on the credentials Secret, as `METHOD` (a create names it in its body).
fn on_credentials(fake: &FakeApi) -> Vec<String> {
    let credentials = path("secrets", "demo-credentials");
    fake.take_requests()
        .into_iter()
        .filter(|r| r.object_path() == credentials)
        .map(|r| r.method.to_string())
        .collect()
}

#[tokio::test]
async fn a_new_stacks_credentials_are_created_without_a_read() {
    let (fake, ctx) = FakeApi::start();
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    assert_eq!(on_credentials(&fake), ["POST"]);
    let created = fake.get("secrets", "demo-credentials").unwrap();
    assert!(created["data"]["DEVSTACK_DB_PASSWORD"].is_string());
    assert_eq!(stalled(&fake), None);
}

#[tokio::test]
async fn credentials_the_cache_misses_are_read_after_the_create_fails_and_kept() {
    let (fake, ctx) = FakeApi::start();
    fake.put("secrets", own_credentials("kept"));
    // The cache lags: it does not hold the Secret that exists.
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    // Read after the failed create; then applied as read (the fixture lacks the rendered
    // labels and hash), with its values.
    assert_eq!(on_credentials(&fake), ["POST", "GET", "PATCH"]);
    let live = fake.get("secrets", "demo-credentials").unwrap();
    assert_eq!(
        decoded(&live["data"]["DEVSTACK_DB_PASSWORD"]),
        "kept",
        "the user's password is kept"
    );
    assert_eq!(stalled(&fake), None);
    // What is rendered from the credentials carries the kept value, not a fresh one.
    let connections = fake.get("secrets", "demo-connections").unwrap();
    let values = connections["data"].as_object().unwrap();
    let decoded: Vec<String> = values.values().map(decoded).collect();
    assert!(
        decoded.iter().any(|v| v.contains("kept")),
        "connections rendered with the existing password: {decoded:?}"
    );
}

#[tokio::test]
async fn retained_data_whose_credentials_the_cache_misses_is_not_credentials_lost() {
    let (fake, ctx) = FakeApi::start();
    fake.put("secrets", own_credentials("kept"));
    fake.put(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-db-0", "namespace": NS, "uid": "uid-claim",
                "labels": {"devstack.dev/stack": "demo", "devstack.dev/service": "db",
                    "app.kubernetes.io/managed-by": "devstack"}},
            "spec": {"accessModes": ["ReadWriteOnce"]}}),
    );
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    // The data says the credentials may exist: read before anything is written.
    assert_eq!(on_credentials(&fake), ["GET", "PATCH"]);
    let live = fake.get("secrets", "demo-credentials").unwrap();
    assert_eq!(decoded(&live["data"]["DEVSTACK_DB_PASSWORD"]), "kept");
    assert_eq!(stalled(&fake), None);
}

#[tokio::test]
async fn a_foreign_secret_of_the_credentials_name_met_by_the_create_is_a_conflict() {
    let (fake, ctx) = FakeApi::start();
    let foreign = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "demo-credentials", "namespace": NS, "uid": "uid-theirs",
            "resourceVersion": "5"},
        "data": {"password": b64("theirs")}});
    fake.put("secrets", foreign.clone());
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    assert_eq!(on_credentials(&fake), ["POST", "GET"]);
    assert_eq!(fake.get("secrets", "demo-credentials").unwrap(), foreign);
    let (reason, message) = stalled(&fake).expect("stalled");
    assert_eq!(reason, "Conflict");
    assert!(message.contains("Secret demo-credentials"), "{message}");
    assert!(fake.get("apps/v1/statefulsets", "db").is_none());
}

/// The Event requests (`METHOD reason`) the reconcile made.
fn events(fake: &FakeApi) -> Vec<String> {
    fake.take_requests()
        .into_iter()
        .filter(|r| r.path.contains("/events"))
        .map(|r| format!("{} {}", r.method, r.body["reason"].as_str().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn a_rollout_publishes_one_applied_and_ready_and_a_repair_publishes_again() {
    let (fake, ctx) = FakeApi::start();
    let starting = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0, "currentRevision": "r1", "updateRevision": "r1"});
    fake.status_on_apply("apps/v1/statefulsets", "db", starting);
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let first: Vec<serde_json::Value> = fake
        .take_requests()
        .into_iter()
        .filter(|r| r.path.contains("/events"))
        .map(|r| r.body)
        .collect();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["reason"], "Applied");
    let note = first[0]["note"].as_str().unwrap();
    assert!(
        note.contains("StatefulSet/db")
            && note.ends_with("created once their dependencies are ready: api"),
        "{note}"
    );
    // db turns Ready: api is created, the stack is Ready. Only the transition is told.
    let ready = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r1"});
    let mut db = fake.get("apps/v1/statefulsets", "db").unwrap();
    db["status"] = ready;
    fake.put("apps/v1/statefulsets", db);
    reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap();
    assert!(fake.get("apps/v1/deployments", "api").is_some());
    assert_eq!(events(&fake), ["POST Ready"]);
    // A drift repair is a real change: told again, as a series on the first `Applied`.
    let mut api = fake.get("apps/v1/deployments", "api").unwrap();
    api["spec"]["replicas"] = json!(3);
    api["metadata"]["generation"] = json!(2);
    fake.put("apps/v1/deployments", api);
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    let applied = first[0]["metadata"]["name"].as_str().unwrap();
    let repeats: Vec<(String, serde_json::Value)> = fake
        .take_requests()
        .into_iter()
        .filter(|r| r.path.contains("/events"))
        .map(|r| {
            (
                format!("{} {}", r.method, r.path),
                r.body["series"]["count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        repeats,
        [(
            format!("PATCH /apis/events.k8s.io/v1/namespaces/{NS}/events/{applied}"),
            json!(2)
        )]
    );
}

#[tokio::test]
async fn a_progressing_stacks_status_waits_at_most_a_second_and_ready_never_waits() {
    let (fake, ctx) = FakeApi::start();
    let chain = "    db: {type: postgres}\n    api: {image: 'a:1', dependsOn: [db]}\n    web: {image: 'w:1', dependsOn: [api]}\n";
    let starting = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0, "currentRevision": "r1", "updateRevision": "r1"});
    fake.status_on_apply("apps/v1/statefulsets", "db", starting);
    let starting =
        json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0, "updatedReplicas": 1});
    fake.status_on_apply("apps/v1/deployments", "api", starting);
    reconcile(fake.stack(devstack(chain)), ctx.clone())
        .await
        .unwrap();
    let first = fake.stored_stack("demo").status.unwrap();
    assert_eq!(first.ready_services, Some(0), "the first status: at once");
    // db turns Ready, api is created and starts: only progress, so the status waits.
    let mut db = fake.get("apps/v1/statefulsets", "db").unwrap();
    db["status"] = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r1"});
    fake.put("apps/v1/statefulsets", db);
    let action = reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap();
    assert!(
        fake.get("apps/v1/deployments", "api").is_some(),
        "created at once"
    );
    assert_eq!(fake.stored_stack("demo").status.unwrap(), first, "held");
    // Back within the second (not at the 30 s progress check), so it is never lost.
    assert_eq!(action, Action::requeue(HOLD));
    assert_ne!(HOLD, PROGRESS_CHECK);
    // Back when due: written, with api's state.
    tokio::time::sleep(HOLD).await;
    reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap();
    let second = fake.stored_stack("demo").status.unwrap();
    assert_eq!(second.ready_services, Some(1));
    assert_eq!(second.services["api"].message.as_deref(), Some("starting"));
    // api turns Ready, web is created Ready: Ready is written at once.
    let mut api = fake.get("apps/v1/deployments", "api").unwrap();
    api["status"] =
        json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1});
    fake.put("apps/v1/deployments", api);
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    let ready = fake.stored_stack("demo").status.unwrap();
    assert_eq!(ready.ready_services, Some(3));
}

#[tokio::test]
async fn a_workload_created_moments_ago_is_not_created_again_before_the_cache_has_it() {
    let (fake, ctx) = FakeApi::start();
    // Caches that never catch up: every pass finds them without the stack's objects.
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let on_workloads = |fake: &FakeApi| -> Vec<String> {
        fake.take_requests()
            .into_iter()
            .filter(|r| {
                let object = r.object_path();
                object == path("apps/v1/statefulsets", "db")
                    || object == path("apps/v1/deployments", "api")
            })
            .map(|r| r.method.to_string())
            .collect()
    };
    assert_eq!(on_workloads(&fake), ["POST", "POST"]);
    // The next pass at once: not sent again, counted as just created (not ready).
    reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap();
    assert_eq!(on_workloads(&fake), Vec::<String>::new());
    let status = fake.stored_stack("demo").status.unwrap();
    assert_eq!(status.services["db"].message.as_deref(), Some("starting"));
    // Asked once only: a pass after that finds the cache still without them creates them
    // (409: read, ours, taken as read), as it would a workload deleted meanwhile.
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    let methods = on_workloads(&fake);
    assert_eq!(
        methods.iter().filter(|m| *m == "POST").count(),
        1,
        "{methods:?}"
    );
    assert!(methods.contains(&"GET".to_string()), "{methods:?}");
}
