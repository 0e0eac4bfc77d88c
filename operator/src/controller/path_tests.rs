//! K1's path (session 6): the workloads of one dependency level are created together, not one
//! after the other, and a level still waits for the one before it; the watch events of the
//! operator's own writes (a create, the Deployment controller's revision after it) do not wake
//! a pass with nothing to do, while readiness, edits and deletions still do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http::Method;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::PartialObjectMeta;
use kube::runtime::watcher;
use kube::Resource;
use serde_json::json;

use super::create_tests::empty_stores;
use super::fixtures::{devstack, FakeApi, NS};
use super::reconcile::reconcile;
use super::triggers::{changed_by_others, wakes, workload_state, workload_wakes};
use super::verified::Verified;
use super::woken::Woken;

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
        json!({"observedGeneration": 1, "replicas": 1, "readyReplicas": 0}),
    );
    reconcile(fake.stack(devstack(LEVELS)), ctx).await.unwrap();
    let mut order = created(&fake);
    order.sort();
    assert_eq!(order, ["a", "b"]);
}

/// A Deployment `name` as the API server returns it right after its create (no status yet).
fn created_deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"), "generation": 1,
            "annotations": {"devstack.dev/desired-hash": "h"}},
        "spec": {"replicas": 1, "selector": {}, "template": {}}
    }))
    .unwrap()
}

fn names<K: Resource>(woken: &[K]) -> Vec<String> {
    woken
        .iter()
        .map(|o| o.meta().name.clone().unwrap())
        .collect()
}

async fn woken<K, F>(events: Vec<watcher::Event<K>>, wanted: F) -> Vec<Woken<K>>
where
    K: Resource + Send + 'static,
    F: FnMut(&K, bool) -> bool + Send + 'static,
{
    let events = futures::stream::iter(events.into_iter().map(Ok));
    wakes(events, wanted).map(Result::unwrap).collect().await
}

#[tokio::test]
async fn a_workloads_own_create_does_not_wake_its_stack_but_its_readiness_does() {
    let verified = Arc::new(Verified::default());
    let ours = created_deployment("ours");
    // The create returned it: recorded, as by the write path.
    verified.saw("Deployment", &ours.metadata, "h");
    let mut revised = ours.clone();
    revised
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("deployment.kubernetes.io/revision".into(), "1".into());
    let mut ready = revised.clone();
    ready.status = serde_json::from_value(json!({"observedGeneration": 1, "replicas": 1,
        "updatedReplicas": 1, "readyReplicas": 1}))
    .unwrap();
    let mut edited = ready.clone();
    edited.metadata.generation = Some(2);
    // Not recorded: another writer's, or seen first after a restart.
    let unknown = created_deployment("unknown");
    // Not recorded yet (its event came before the create's answer), but at generation 1 under
    // a DevStack's controller reference: as a pass creates it.
    let mut racing = created_deployment("racing");
    racing.metadata.owner_references = serde_json::from_value(json!([{"apiVersion":
        "devstack.dev/v1alpha1", "kind": "DevStack", "name": "demo", "uid": "uid-demo",
        "controller": true}]))
    .unwrap();
    let events = vec![
        watcher::Event::Apply(ours.clone()),
        watcher::Event::Apply(revised),
        watcher::Event::Apply(unknown),
        watcher::Event::Apply(racing),
        watcher::Event::Apply(ready),
        watcher::Event::Apply(edited),
        watcher::Event::Delete(ours),
    ];
    let woken = woken(events, workload_wakes::<Deployment>(&verified)).await;
    let generations: Vec<_> = woken.iter().map(|d| d.metadata.generation).collect();
    assert_eq!(names(&woken), ["unknown", "ours", "ours", "ours"]);
    assert_eq!(generations, [Some(1), Some(1), Some(2), Some(1)]);
}

#[tokio::test]
async fn an_objects_own_write_does_not_wake_its_stack_but_anothers_change_does() {
    let verified = Arc::new(Verified::default());
    let policy = |version: &str| -> PartialObjectMeta<NetworkPolicy> {
        serde_json::from_value(json!({"apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadata",
            "metadata": {"name": "demo-default-deny", "namespace": NS, "resourceVersion": version}}))
        .unwrap()
    };
    verified.saw("NetworkPolicy", &policy("5").metadata, "h");
    let events = vec![
        // The event of the operator's own create (or apply).
        watcher::Event::Apply(policy("5")),
        // Someone's edit.
        watcher::Event::Apply(policy("6")),
        watcher::Event::Delete(policy("6")),
    ];
    let wanted = changed_by_others::<PartialObjectMeta<NetworkPolicy>>(&verified);
    let woken = woken(events, wanted).await;
    let versions: Vec<_> = woken
        .iter()
        .map(|p| p.metadata.resource_version.clone().unwrap())
        .collect();
    assert_eq!(versions, ["6", "6"]);
}

#[test]
fn the_deployment_controllers_revision_is_not_a_change() {
    let created = created_deployment("api");
    let mut revised = created.clone();
    let revision = (
        "deployment.kubernetes.io/revision".to_string(),
        "1".to_string(),
    );
    revised
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .extend([revision]);
    assert_eq!(workload_state(&revised), workload_state(&created));
    let note = ("note".to_string(), "hand edit".to_string());
    revised
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .extend([note]);
    assert_ne!(workload_state(&revised), workload_state(&created));
}
