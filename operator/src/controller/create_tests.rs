//! A create from the watch caches: a POST without a read by name before it, a same-named
//! object of someone else's met by the create itself (409), and the fields a POST left to an
//! `Update` entry handed to the `Apply` entry before the next apply (see
//! [`super::write::Writer::apply`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::PartialObjectMeta;
use kube::runtime::watcher::Event;
use serde_json::json;

use super::cache::{store, Cached, Store, Stores};
use super::fixtures::{devstack, path, FakeApi, Recorded, NS};
use super::reconcile::reconcile;

const SMALL: &str = "    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

pub(super) fn empty<C: Cached>() -> Store<C> {
    let (store, mut writer) = store();
    writer.apply_watcher_event(&Event::Init);
    writer.apply_watcher_event(&Event::InitDone);
    store
}

/// Watch caches that have seen a namespace without any object of the stack.
pub(super) fn empty_stores() -> Stores {
    Stores {
        secrets: empty::<Secret>(),
        config_maps: empty::<PartialObjectMeta<ConfigMap>>(),
        policies: empty::<PartialObjectMeta<NetworkPolicy>>(),
        services: empty::<PartialObjectMeta<Service>>(),
        deployments: empty::<Deployment>(),
        statefulsets: empty::<StatefulSet>(),
    }
}

/// Reads by name of the owned kinds (the credentials Secret's too: a new stack's are created
/// without a read, see `request_tests`).
fn reads_by_name(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == http::Method::GET)
        .map(|r| r.path.clone())
        .filter(|p| {
            [
                "/secrets/",
                "/configmaps/",
                "/networkpolicies/",
                "/services/",
            ]
            .iter()
            .chain(&["/deployments/", "/statefulsets/"])
            .any(|k| p.contains(k))
        })
        .collect()
}

#[tokio::test]
async fn a_new_stack_is_created_without_a_read_before_each_create() {
    let (fake, ctx) = FakeApi::start();
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    let requests = fake.take_requests();
    assert_eq!(reads_by_name(&requests), Vec::<String>::new());
    let writes: Vec<&Recorded> = requests.iter().filter(|r| r.is_object_write()).collect();
    assert!(writes.len() > 5, "{} writes", writes.len());
    for write in writes {
        assert_eq!(write.method, http::Method::POST, "{}: created", write.path);
    }
    assert!(fake.get("apps/v1/statefulsets", "db").is_some());
}

#[tokio::test]
async fn a_create_that_meets_someone_elses_object_is_refused_and_names_it() {
    let (fake, ctx) = FakeApi::start();
    let helm = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "db", "namespace": NS, "uid": "uid-helm", "resourceVersion": "7",
            "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "spec": {"ports": [{"port": 5432}]}
    });
    fake.put("services", helm.clone());
    // The caches hold only the stack's labelled objects: none.
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx).await.unwrap();
    let requests = fake.take_requests();
    assert_eq!(
        fake.get("services", "db").unwrap(),
        helm,
        "theirs untouched"
    );
    let db = path("services", "db");
    let reads = reads_by_name(&requests);
    assert!(
        reads.contains(&db),
        "read after the failed create: {reads:?}"
    );
    let first_read = requests
        .iter()
        .position(|r| r.path == db && r.method == http::Method::GET);
    let first_write = requests
        .iter()
        .position(|r| r.path == db && r.is_object_write());
    assert!(first_write < first_read, "no read before the create");
    assert!(
        fake.get("apps/v1/statefulsets", "db").is_none(),
        "no workload written while a conflict stands"
    );
    let stack = fake.stored_stack("demo");
    let stalled = stack
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap();
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "Conflict")
    );
    assert!(
        stalled.message.contains("Service db: not labelled"),
        "{}",
        stalled.message
    );
}

#[tokio::test]
async fn fields_a_create_left_to_update_are_handed_to_apply_before_the_next_apply() {
    let (fake, ctx) = FakeApi::start();
    ctx.caches.register(Some(NS.to_string()), empty_stores());
    reconcile(fake.stack(devstack(SMALL)), ctx.clone())
        .await
        .unwrap();
    let created = fake.get("apps/v1/deployments", "api").unwrap();
    assert_eq!(
        created["metadata"]["managedFields"][0]["operation"],
        "Update"
    );
    // The wish changes (a new image); the Deployment as the caches would hold it: no
    // managedFields, marked as created by a POST.
    let changed = SMALL.replace("api:1.0", "api:2.0");
    let mut stack = fake.stored_stack("demo");
    stack.spec = devstack(&changed).spec;
    stack.metadata.generation = Some(2);
    let deployments: Store<Deployment> = {
        let (store, mut writer) = store();
        let mut cached: Deployment = serde_json::from_value(created).unwrap();
        super::ownership::forget_managed_fields(&mut cached.metadata);
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(cached));
        writer.apply_watcher_event(&Event::InitDone);
        store
    };
    let stores = Stores {
        deployments,
        ..empty_stores()
    };
    ctx.caches.register(Some(NS.to_string()), stores);
    fake.take_requests();
    reconcile(fake.stack(stack), ctx).await.unwrap();
    let api = path("apps/v1/deployments", "api");
    let on_api: Vec<(String, serde_json::Value)> = fake
        .take_requests()
        .into_iter()
        .filter(|r| r.path == api)
        .map(|r| (r.method.to_string(), r.body))
        .collect();
    let methods: Vec<&str> = on_api.iter().map(|(m, _)| m.as_str()).collect();
    // Unchanged since it was created (uid and generation as recorded): not read before the
    // comparison; read once for its managedFields, handed over, applied.
    assert_eq!(methods, ["GET", "PATCH", "PATCH"], "{on_api:?}");
    let handed = &on_api[1].1["metadata"]["managedFields"];
    assert_eq!(handed[0]["manager"], "devstack-operator");
    assert_eq!(handed[0]["operation"], "Apply", "{handed}");
    assert_eq!(handed.as_array().unwrap().len(), 1);
    let applied = &on_api[2].1;
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/acme/api:2.0"
    );
    let live = fake.get("apps/v1/deployments", "api").unwrap();
    assert_eq!(live["metadata"]["managedFields"], serde_json::Value::Null);
}
