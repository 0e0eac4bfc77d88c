//! One branch of the reconcile each, against the fake API server of [`super::fixtures`]: no
//! cluster, no kubeconfig.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use devstack_core::types::DevStack;
use kube::runtime::controller::Action;
use serde_json::json;

use super::fixtures::{devstack, path, FakeApi, Recorded, NS};
use super::reconcile::reconcile;
use super::{error_policy, ANNOTATION_RESET};

const SMALL: &str = "    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

fn condition(stack: &DevStack, type_: &str) -> (String, String, String) {
    let status = stack.status.clone().unwrap_or_default();
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn object_writes(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.is_object_write())
        .map(|r| format!("{} {}", r.method, r.object_path()))
        .collect()
}

#[tokio::test]
async fn invalid_spec_is_stalled_with_nothing_written() {
    let (fake, ctx) = FakeApi::start();
    let guard = fake.stack(devstack("    api: {image: 'a:1', dependsOn: [nope]}\n"));
    let action = reconcile(guard, ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    let requests = fake.take_requests();
    assert_eq!(object_writes(&requests), Vec::<String>::new());
    let stack = fake.stored_stack("demo");
    let (stalled, reason, message) = condition(&stack, "Stalled");
    assert_eq!((stalled.as_str(), reason.as_str()), ("True", "InvalidSpec"));
    assert!(message.contains("nope"), "{message}");
    assert_eq!(condition(&stack, "Ready").0, "False");
}

#[tokio::test]
async fn a_large_invalid_value_keeps_the_status_small() {
    let (fake, ctx) = FakeApi::start();
    let huge = "x".repeat(700_000);
    let guard = fake.stack(devstack(&format!(
        "    api: {{image: 'a:1', dependsOn: [{huge}]}}\n"
    )));
    reconcile(guard, ctx).await.unwrap();
    let status_patch = fake
        .take_requests()
        .into_iter()
        .find(|r| r.path.ends_with("/status"))
        .expect("a status write");
    let size = serde_json::to_vec(&status_patch.body).unwrap().len();
    assert!(size < 32 * 1024, "status patch of {size} bytes");
    let (_, reason, message) = condition(&fake.stored_stack("demo"), "Stalled");
    assert_eq!(reason, "InvalidSpec");
    assert!(message.contains("cut from"), "{message}");
}

#[tokio::test]
async fn a_transient_error_requeues_with_backoff() {
    let (fake, ctx) = FakeApi::start();
    fake.fail(&format!("/api/v1/namespaces/{NS}/secrets"));
    let guard = fake.stack(devstack(SMALL));
    let error = reconcile(guard.clone(), ctx.clone()).await.unwrap_err();
    assert_eq!(error.metric_label(), "list_secret");
    assert_eq!(
        error_policy(guard.clone(), &error, ctx.clone()),
        Action::requeue(Duration::from_secs(1))
    );
    assert_eq!(
        error_policy(guard, &error, ctx),
        Action::requeue(Duration::from_secs(2)),
        "backs off"
    );
    assert_eq!(object_writes(&fake.take_requests()), Vec::<String>::new());
    let (reconciling, reason, _) = condition(&fake.stored_stack("demo"), "Reconciling");
    assert_eq!(
        (reconciling.as_str(), reason.as_str()),
        ("True", "ReconcileError")
    );
}

#[tokio::test]
async fn an_unchanged_stack_costs_no_write() {
    let (fake, ctx) = FakeApi::start();
    let guard = fake.stack(devstack(SMALL));
    reconcile(guard, ctx.clone()).await.unwrap();
    let first = object_writes(&fake.take_requests());
    assert!(
        first.iter().any(|w| w.ends_with("/deployments/api")),
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|w| w.ends_with("/secrets/demo-credentials")),
        "{first:?}"
    );
    let stack = fake.stored_stack("demo");
    assert_eq!(condition(&stack, "Ready").0, "True");
    let credentials = fake.get("secrets", "demo-credentials").unwrap();
    assert!(
        credentials["metadata"]["ownerReferences"].is_null(),
        "the credentials are never garbage-collected: {credentials}"
    );

    let action = reconcile(fake.stack(stack), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(super::report::RESYNC));
    let writes: Vec<String> = fake
        .take_requests()
        .iter()
        .filter(|r| r.method != http::Method::GET)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        writes,
        Vec::<String>::new(),
        "no write at all, status and Events included"
    );
}

#[tokio::test]
async fn an_object_controlled_by_another_owner_is_refused() {
    let (fake, ctx) = FakeApi::start();
    let other = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS, "uid": "uid-other",
            "labels": {"devstack.dev/stack": "demo", "app.kubernetes.io/managed-by": "devstack"},
            "ownerReferences": [{"apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack", "name": "other", "uid": "uid-of-other", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "x", "image": "theirs:1"}]}}}
    });
    fake.put("apps/v1/deployments", other.clone());
    let helm = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db", "namespace": NS, "uid": "uid-helm", "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "spec": {"ports": [{"port": 5432}]}
    });
    fake.put("services", helm.clone());
    let guard = fake.stack(devstack(SMALL));
    let action = reconcile(guard, ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let requests = fake.take_requests();
    assert_eq!(object_writes(&requests), Vec::<String>::new());
    assert_eq!(fake.get("apps/v1/deployments", "api").unwrap(), other);
    assert_eq!(fake.get("services", "db").unwrap(), helm);
    let (stalled, reason, message) = condition(&fake.stored_stack("demo"), "Stalled");
    assert_eq!((stalled.as_str(), reason.as_str()), ("True", "Conflict"));
    assert!(
        message.contains("Deployment api: controlled by DevStack other"),
        "{message}"
    );
    assert!(message.contains("Service db: not labelled"), "{message}");
    let event = requests
        .iter()
        .find(|r| r.path.ends_with("/events"))
        .expect("an Event");
    assert_eq!(event.body["type"], "Warning");
    assert_eq!(event.body["reason"], "Conflict");
    assert!(event.body["note"]
        .as_str()
        .unwrap()
        .contains("Deployment api"));
}

#[tokio::test]
async fn a_reset_is_recorded_on_the_credentials_and_done_once() {
    let (fake, ctx) = FakeApi::start();
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let before = fake.get("secrets", "demo-credentials").unwrap();
    let mut stack = fake.stored_stack("demo");
    stack
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION_RESET.into(), "1".into());
    fake.take_requests();
    // First pass: the StatefulSet goes; the credentials stay until the data is gone.
    let action = reconcile(fake.stack(stack.clone()), ctx.clone())
        .await
        .unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(2)));
    assert_eq!(
        object_writes(&fake.take_requests()),
        vec![format!("DELETE {}", path("apps/v1/statefulsets", "db"))]
    );
    assert_eq!(fake.get("secrets", "demo-credentials").unwrap(), before);
    // Second pass: new credentials carrying the record, in one write.
    let stack = fake.stored_stack("demo");
    reconcile(fake.stack(stack), ctx.clone()).await.unwrap();
    let after = fake.get("secrets", "demo-credentials").unwrap();
    assert_ne!(after["data"], before["data"]);
    assert_eq!(
        after["metadata"]["annotations"]["devstack.dev/last-reset"],
        "1"
    );
    // A restore without the status does not reset again.
    let mut restored = fake.stored_stack("demo");
    restored.status = None;
    fake.take_requests();
    reconcile(fake.stack(restored), ctx).await.unwrap();
    let deletes: Vec<String> = object_writes(&fake.take_requests())
        .into_iter()
        .filter(|w| w.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes, Vec::<String>::new());
    assert_eq!(
        fake.get("secrets", "demo-credentials").unwrap()["data"],
        after["data"]
    );
}

#[tokio::test]
async fn pods_refused_by_pod_security_are_named_in_the_status() {
    let (fake, ctx) = FakeApi::start();
    let refusal = "pods \"api-7d9\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true";
    fake.status_on_apply(
        "apps/v1/deployments",
        "api",
        json!({"observedGeneration": 1, "replicas": 0, "conditions": [
            {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": refusal}]}),
    );
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    let stack = fake.stored_stack("demo");
    let api = &stack.status.as_ref().unwrap().services["api"];
    assert!(!api.ready);
    assert_eq!(
        api.message.as_deref(),
        Some(format!("pods cannot be created: {refusal}").as_str())
    );
    let (_, _, message) = condition(&stack, "Ready");
    assert!(message.contains("violates PodSecurity"), "{message}");
}

#[tokio::test]
async fn retained_data_without_its_credentials_is_never_given_new_ones() {
    let (fake, ctx) = FakeApi::start();
    fake.put(
        "persistentvolumeclaims",
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-db-0", "namespace": NS, "uid": "uid-claim",
                "labels": {"devstack.dev/stack": "demo", "devstack.dev/service": "db",
                    "app.kubernetes.io/managed-by": "devstack"}},
            "spec": {"accessModes": ["ReadWriteOnce"]}}),
    );
    let action = reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert_eq!(object_writes(&fake.take_requests()), Vec::<String>::new());
    assert!(fake.get("secrets", "demo-credentials").is_none());
    let (stalled, reason, _) = condition(&fake.stored_stack("demo"), "Stalled");
    assert_eq!(
        (stalled.as_str(), reason.as_str()),
        ("True", "CredentialsLost")
    );
}

#[tokio::test]
async fn a_rotation_replaces_one_app_secret_once_and_rolls_its_consumer() {
    let (fake, ctx) = FakeApi::start();
    let services =
        "    db: {type: postgres}\n    api: {image: 'a:1', secrets: [JWT_SECRET, OTHER]}\n";
    reconcile(fake.stack(devstack(services)), ctx.clone())
        .await
        .unwrap();
    let before = fake.get("secrets", "demo-credentials").unwrap();
    let template = |fake: &FakeApi| {
        fake.get("apps/v1/deployments", "api").unwrap()["spec"]["template"]["metadata"]
            ["annotations"]["devstack.dev/app-secrets-hash"]
            .clone()
    };
    let hash = template(&fake);
    assert!(hash.is_string(), "the consumer carries the hash");
    let mut stack = fake.stored_stack("demo");
    stack
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(super::ANNOTATION_ROTATE.into(), "1:api.JWT_SECRET".into());
    reconcile(fake.stack(stack), ctx.clone()).await.unwrap();
    let after = fake.get("secrets", "demo-credentials").unwrap();
    let data = |s: &serde_json::Value, k: &str| s["data"][k].clone();
    assert_ne!(
        data(&after, "DEVSTACK_API_JWT_SECRET"),
        data(&before, "DEVSTACK_API_JWT_SECRET")
    );
    for kept in ["DEVSTACK_API_OTHER", "DEVSTACK_DB_PASSWORD"] {
        assert_eq!(data(&after, kept), data(&before, kept), "{kept}");
    }
    assert_eq!(
        after["metadata"]["annotations"]["devstack.dev/last-rotate"],
        "1:api.JWT_SECRET"
    );
    assert_ne!(template(&fake), hash, "the consumer rolls out");
    // Done once: the same value again (a restore, a requeue) changes nothing.
    let stack = fake.stored_stack("demo");
    reconcile(fake.stack(stack), ctx.clone()).await.unwrap();
    assert_eq!(
        fake.get("secrets", "demo-credentials").unwrap()["data"],
        after["data"]
    );
    // An unknown target is Stalled, naming the field.
    let mut stack = fake.stored_stack("demo");
    stack
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(super::ANNOTATION_ROTATE.into(), "2:db.password".into());
    reconcile(fake.stack(stack), ctx).await.unwrap();
    let (status, _, message) = condition(&fake.stored_stack("demo"), "Stalled");
    assert_eq!(status, "True");
    assert!(message.contains("devstack.dev/rotate"), "{message}");
    assert_eq!(
        fake.get("secrets", "demo-credentials").unwrap()["data"],
        after["data"]
    );
}

#[tokio::test]
async fn a_planned_node_port_held_by_someone_else_stalls_the_stack_naming_it() {
    let (fake, ctx) = FakeApi::start();
    // Another team's Service holds 30344, where host port 5432 lands.
    fake.put(
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "theirs", "namespace": NS, "uid": "uid-theirs"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30344}]}}),
    );
    let stack = "    db: {type: postgres, hostPorts: {postgres: 5432}}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";
    let action = reconcile(fake.stack(devstack(stack)), ctx.clone())
        .await
        .unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let requests = fake.take_requests();
    // Everything else is applied: the stack works in the cluster.
    assert!(fake.get("services", "db").is_some());
    assert!(fake.get("apps/v1/statefulsets", "db").is_some());
    assert!(fake.get("apps/v1/deployments", "api").is_some());
    assert!(fake.get("services", "db-nodeport").is_none());
    let (stalled, reason, message) = condition(&fake.stored_stack("demo"), "Stalled");
    assert_eq!(
        (stalled.as_str(), reason.as_str()),
        ("True", "NodePortTaken")
    );
    let want = "node port 30344 (host port 5432 of service db) is already allocated to Service test/theirs; free it there, or choose another host port at spec.services.db.hostPorts.postgres";
    assert_eq!(message, want);
    assert_eq!(condition(&fake.stored_stack("demo"), "Ready").0, "False");
    let events: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.path.ends_with("/events") && r.body["type"] == "Warning")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].body["reason"], "NodePortTaken");
    assert_eq!(events[0].body["note"], want);

    // Still taken: the same status, no second Event.
    let stack_now = fake.stored_stack("demo");
    reconcile(fake.stack(stack_now), ctx.clone()).await.unwrap();
    let again = fake.take_requests();
    assert!(!again
        .iter()
        .any(|r| r.path.ends_with("/events") && r.body["type"] == "Warning"));

    // Freed: the NodePort Service is created and the stack is Ready.
    fake.take_requests();
    let freed = path("services", "theirs");
    assert!(fake.remove(&freed));
    let stack_now = fake.stored_stack("demo");
    let action = reconcile(fake.stack(stack_now), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(super::report::RESYNC));
    let node_port = fake.get("services", "db-nodeport").unwrap();
    assert_eq!(node_port["spec"]["ports"][0]["nodePort"], 30344);
    assert_eq!(condition(&fake.stored_stack("demo"), "Ready").0, "True");
}

#[tokio::test]
async fn a_new_stack_gets_the_finalizer_and_is_applied_in_the_same_pass() {
    let (fake, ctx) = FakeApi::start();
    let mut stack = devstack(SMALL);
    stack.metadata.finalizers = None;
    let action = reconcile(fake.stack(stack), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(super::report::RESYNC));
    let requests = fake.take_requests();
    let patches: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == http::Method::PATCH && r.path.ends_with("/devstacks/demo"))
        .collect();
    assert_eq!(patches.len(), 1, "one finalizer write");
    assert_eq!(
        patches[0].body["metadata"]["finalizers"],
        json!(["devstack.dev/cleanup"])
    );
    assert_eq!(patches[0].body["metadata"]["resourceVersion"], "1");
    let stored = fake.stored_stack("demo");
    assert_eq!(
        stored.metadata.finalizers,
        Some(vec!["devstack.dev/cleanup".to_string()])
    );
    assert_eq!(
        condition(&stored, "Ready").0,
        "True",
        "applied in the same pass"
    );
    assert!(fake.get("apps/v1/deployments", "api").is_some());
}

#[tokio::test]
async fn a_held_back_workload_is_read_only_when_it_is_created() {
    let (fake, ctx) = FakeApi::start();
    let starting = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0, "currentRevision": "r1", "updateRevision": "r1"});
    fake.status_on_apply("apps/v1/statefulsets", "db", starting);
    let api_path = path("apps/v1/deployments", "api");
    let gets_of_api = |requests: &[Recorded]| {
        requests
            .iter()
            .filter(|r| r.method == http::Method::GET && r.path == api_path)
            .count()
    };
    // First pass of the generation: every rendered name is read (api held back).
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    assert_eq!(gets_of_api(&fake.take_requests()), 1);
    assert!(fake.get("apps/v1/deployments", "api").is_none());
    // Progressing: api still waits for db, and is not read.
    reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap();
    assert_eq!(gets_of_api(&fake.take_requests()), 0);
    // db turns Ready in this very pass (its drift is repaired, and the server answers Ready);
    // someone else made an api meanwhile: it is read just before the create and refused.
    let ready = json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r1"});
    fake.status_on_apply("apps/v1/statefulsets", "db", ready);
    let mut db = fake.get("apps/v1/statefulsets", "db").unwrap();
    db["spec"]["replicas"] = json!(3);
    db["metadata"]["generation"] = json!(2); // as the API server does on a spec edit
    fake.put("apps/v1/statefulsets", db);
    let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": NS, "uid": "uid-theirs", "labels": {"app": "theirs"}},
        "spec": {"selector": {}, "template": {}}});
    fake.put("apps/v1/deployments", theirs.clone());
    let error = reconcile(fake.stack(fake.stored_stack("demo")), ctx.clone())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Deployment \"api\" is not this stack's own"),
        "{error}"
    );
    let requests = fake.take_requests();
    assert_eq!(gets_of_api(&requests), 1, "read just before the create");
    assert!(!object_writes(&requests)
        .iter()
        .any(|w| w.ends_with("/deployments/api")));
    assert_eq!(fake.get("apps/v1/deployments", "api").unwrap(), theirs);
    // Theirs gone: api is created.
    assert!(fake.remove(&api_path));
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    assert!(fake.get("apps/v1/deployments", "api").is_some());
}

#[tokio::test]
async fn a_statefulset_not_yet_handled_costs_no_event_list() {
    let (fake, ctx) = FakeApi::start();
    let events = |requests: &[Recorded]| {
        requests
            .iter()
            .filter(|r| r.method == http::Method::GET && r.path.ends_with("/events"))
            .count()
    };
    // Just created: the StatefulSet controller has not written a status yet.
    fake.status_on_apply("apps/v1/statefulsets", "db", json!({}));
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    assert_eq!(events(&fake.take_requests()), 0);
    // Handled, and no pod: the reason is looked up in its Events.
    let mut db = fake.get("apps/v1/statefulsets", "db").unwrap();
    db["status"] = json!({"observedGeneration": 1, "replicas": 0});
    fake.put("apps/v1/statefulsets", db);
    reconcile(fake.stack(fake.stored_stack("demo")), ctx)
        .await
        .unwrap();
    assert_eq!(events(&fake.take_requests()), 1);
}
