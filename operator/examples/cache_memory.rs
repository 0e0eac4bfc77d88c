//! How many bytes the operator's caches keep per stack: kube reflector stores filled with
//! 3,000 copies of K2's 5-service stack as the operator keeps it (rendered objects with a live
//! object's uid, resourceVersion, owner reference, desired hash and a workload status; the
//! metadata trimmed, templates and unread conditions dropped, as `controller::cache` and
//! `controller::triggers` keep them), read as the process's RSS before and after each store
//! (Linux). `PROBE_UNTRIMMED=1`: the objects as the caches kept them before session 5.
//!
//! ```sh
//! cargo run -p devstack-operator --example cache_memory
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use kube::Resource;

/// Stacks per measurement.
const STACKS: usize = 3000;

fn rss() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<isize>()
        .unwrap()
        * 1024
}

const STACK: &str = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: s, namespace: bench-k2-1}\nspec:\n  services:\n    db: {type: postgres, storage: {size: 1Gi}}\n    cache: {type: redis}\n    api: {image: 'registry.local/api:1', ports: [{name: http, containerPort: 8080}], dependsOn: [db, cache], env: {LOG_LEVEL: info}}\n    worker: {image: 'registry.local/worker:1', dependsOn: [db]}\n    web: {image: 'registry.local/web:1', ports: [{name: http, containerPort: 3000}], dependsOn: [api]}\n";

fn live<K: Resource + Clone>(mut o: K, i: usize) -> K {
    let m = o.meta_mut();
    m.namespace = Some(format!("bench-k2-{i}"));
    m.uid = Some(format!("816cf1d7-d93b-415e-b20f-e09e95c6{i:04}"));
    m.resource_version = Some(format!("{}", 1000 + i));
    m.generation = Some(1);
    m.creation_timestamp =
        serde_json::from_value(serde_json::json!("2026-12-06T11:55:14Z")).unwrap();
    m.annotations.get_or_insert_with(Default::default).insert(
        "devstack.dev/desired-hash".into(),
        "cbae76fce799fb78b9d9c0c7de91c2e6".into(),
    );
    m.owner_references = Some(vec![serde_json::from_value(serde_json::json!({"apiVersion": "devstack.dev/v1alpha1", "controller": true, "kind": "DevStack", "name": "s", "uid": "e8e36293-daec-4e11-8fa6-2d59d466565a"})).unwrap()]);
    o
}

fn trim<K>(mut o: PartialObjectMeta<K>) -> PartialObjectMeta<K> {
    if std::env::var_os("PROBE_UNTRIMMED").is_none() {
        o.types = None;
        o.metadata
            .labels
            .as_mut()
            .unwrap()
            .retain(|k, _| k == "devstack.dev/stack" || k == "app.kubernetes.io/managed-by");
    }
    o
}

fn measure<K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static>(
    what: &str,
    make: impl Fn(usize) -> Vec<K>,
) -> isize {
    let before = rss();
    let (store, mut writer) = reflector::store::<K>();
    writer.apply_watcher_event(&Event::Init);
    for i in 0..STACKS {
        for o in make(i) {
            writer.apply_watcher_event(&Event::InitApply(o));
        }
    }
    writer.apply_watcher_event(&Event::InitDone);
    let after = rss();
    let count = store.state().len() / STACKS;
    std::mem::forget(store);
    std::mem::forget(writer);
    let per = (after - before) / STACKS as isize;
    eprintln!("{what:>30}: {per:>7} B per stack ({} objects)", count);
    per
}

/// The rendered objects of K2's stack as JSON, by kind.
fn rendered(stack: &devstack_core::DevStack) -> BTreeMap<&'static str, Vec<serde_json::Value>> {
    use devstack_render_k8s::K8sObject as O;
    let plan = devstack_core::plan(stack, &devstack_core::PlanOptions::default()).unwrap();
    let secrets: BTreeMap<String, String> = [
        ("DEVSTACK_DB_PASSWORD".to_string(), "x".repeat(32)),
        ("DEVSTACK_CACHE_PASSWORD".into(), "y".repeat(32)),
    ]
    .into();
    let mut by_kind: BTreeMap<&'static str, Vec<serde_json::Value>> = BTreeMap::new();
    for object in devstack_render_k8s::render(&plan, Some(&secrets)).unwrap() {
        let (kind, value) = match &object {
            O::NetworkPolicy(o) => ("NetworkPolicy", serde_json::to_value(o)),
            O::Service(o) => ("Service", serde_json::to_value(o)),
            O::Deployment(o) => ("Deployment", serde_json::to_value(o)),
            O::StatefulSet(o) => ("StatefulSet", serde_json::to_value(o)),
            O::Secret(o) => ("Secret", serde_json::to_value(o)),
            O::ConfigMap(o) => ("ConfigMap", serde_json::to_value(o)),
        };
        by_kind.entry(kind).or_default().push(value.unwrap());
    }
    by_kind
}

fn objects<K: Resource + Clone + serde::de::DeserializeOwned>(
    values: &[serde_json::Value],
    i: usize,
) -> Vec<K> {
    values
        .iter()
        .map(|v| live(serde_json::from_value(v.clone()).unwrap(), i))
        .collect()
}

/// The owned kinds' caches, as `controller::cache` and `controller::triggers` keep them.
fn measure_caches(by_kind: &BTreeMap<&'static str, Vec<serde_json::Value>>) -> isize {
    let of = |kind: &str| by_kind.get(kind).cloned().unwrap_or_default();
    let (policies, services) = (of("NetworkPolicy"), of("Service"));
    let (deployments, statefulsets, secrets) = (of("Deployment"), of("StatefulSet"), of("Secret"));
    let mut total = 0;
    total += measure::<PartialObjectMeta<NetworkPolicy>>("policies (metadata)", |i| {
        objects(&policies, i).into_iter().map(trim).collect()
    });
    total += measure::<PartialObjectMeta<Service>>("services (metadata)", |i| {
        objects(&services, i).into_iter().map(trim).collect()
    });
    let status = serde_json::json!({"availableReplicas":1,"conditions":[{"lastTransitionTime":"2026-12-06T11:55:17Z","lastUpdateTime":"2026-12-06T11:55:17Z","message":"Deployment has minimum availability.","reason":"MinimumReplicasAvailable","status":"True","type":"Available"},{"lastTransitionTime":"2026-12-06T11:55:14Z","lastUpdateTime":"2026-12-06T11:55:17Z","message":"ReplicaSet \"api-6d4cf56db6\" has successfully progressed.","reason":"NewReplicaSetAvailable","status":"True","type":"Progressing"}],"observedGeneration":1,"readyReplicas":1,"replicas":1,"updatedReplicas":1});
    total += measure::<Deployment>("deployments (no template)", |i| {
        let mut list: Vec<Deployment> = objects(&deployments, i);
        for d in &mut list {
            d.spec.template = Default::default();
            d.status = serde_json::from_value(status.clone()).unwrap();
            if std::env::var_os("PROBE_UNTRIMMED").is_none() {
                d.status.as_mut().unwrap().conditions = Some(vec![]);
            }
        }
        list
    });
    let status = serde_json::json!({"availableReplicas":1,"collisionCount":0,"currentReplicas":1,"currentRevision":"db-5b8f","observedGeneration":1,"readyReplicas":1,"replicas":1,"updateRevision":"db-5b8f","updatedReplicas":1});
    total += measure::<StatefulSet>("statefulsets (no templates)", |i| {
        let mut list: Vec<StatefulSet> = objects(&statefulsets, i);
        for d in &mut list {
            let spec = &mut d.spec;
            spec.template = Default::default();
            spec.volume_claim_templates = None;
            d.status = serde_json::from_value(status.clone()).unwrap();
        }
        list
    });
    total += measure::<Secret>("secrets (whole)", |i| objects(&secrets, i));
    total
}

/// The DevStack cache: the stack with its status (and, for comparison, without).
fn measure_devstack(stack: &devstack_core::DevStack) -> isize {
    let status = serde_json::json!({"conditions":[{"lastTransitionTime":"2026-12-06T11:55:20Z","message":"all 5 services are ready","observedGeneration":1,"reason":"Ready","status":"True","type":"Ready"},{"lastTransitionTime":"2026-12-06T11:55:20Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-12-06T11:55:11Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Stalled"}],"connectionSecret":"s-connections","observedGeneration":1,"readyServices":5,"observedObjects":"5cd75fac394d9a0fb70901b57e5008c45cd75fac394d9a0fb70901b57e5008c4","services":{"api":{"endpoint":"api:8080","image":"registry.local/api:1","ready":true},"cache":{"endpoint":"cache:6379","image":"redis:8","ready":true},"db":{"endpoint":"db:5432","image":"postgres:18","ready":true},"web":{"endpoint":"web:3000","image":"registry.local/web:1","ready":true},"worker":{"image":"registry.local/worker:1","ready":true}}});
    let with_status = measure::<devstack_core::DevStack>("devstack (with status)", |i| {
        let mut s = live(stack.clone(), i);
        s.status = Some(serde_json::from_value(status.clone()).unwrap());
        vec![s]
    });
    measure::<devstack_core::DevStack>("devstack (without status)", |i| {
        vec![live(stack.clone(), i)]
    });
    with_status
}

/// The record (`controller::verified`): 19 entries per stack, as strings (before) and as
/// fingerprints (now).
fn measure_record(by_kind: &BTreeMap<&'static str, Vec<serde_json::Value>>) -> isize {
    let before = rss();
    let mut record: HashMap<(String, String, String), (String, String)> = HashMap::new();
    for i in 0..STACKS {
        for kind in ["NetworkPolicy", "Service", "Deployment", "StatefulSet"] {
            for o in by_kind.get(kind).into_iter().flatten() {
                let name = o["metadata"]["name"].as_str().unwrap().to_string();
                let version = format!("816cf1d7-d93b-415e-b20f-e09e95c6{i:04}/1");
                let hash = "cbae76fce799fb78b9d9c0c7de91c2e6".to_string();
                record.insert(
                    (kind.to_string(), format!("bench-k2-{i}"), name),
                    (version, hash),
                );
            }
        }
    }
    let strings = (rss() - before) / STACKS as isize;
    std::mem::forget(record);
    eprintln!(
        "{:>30}: {strings:>7} B per stack",
        "record (strings, before)"
    );
    let before = rss();
    let mut record: HashMap<u128, (u64, u64, u128, u128)> = HashMap::new();
    for n in 0..STACKS as u128 * 19 {
        record.insert(
            n.wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc835),
            (1, 2, 3, 4),
        );
    }
    let fingerprints = (rss() - before) / STACKS as isize;
    std::mem::forget(record);
    eprintln!(
        "{:>30}: {fingerprints:>7} B per stack",
        "record (fingerprints)"
    );
    if std::env::var_os("PROBE_UNTRIMMED").is_some() {
        strings
    } else {
        fingerprints
    }
}

fn main() {
    let stack = devstack_core::parse::parse_devstack(STACK).unwrap();
    let by_kind = rendered(&stack);
    let counts: Vec<String> = by_kind
        .iter()
        .map(|(k, v)| format!("{} {k}", v.len()))
        .collect();
    eprintln!("rendered: {}", counts.join(", "));
    let total = measure_caches(&by_kind) + measure_devstack(&stack) + measure_record(&by_kind);
    eprintln!("total (the DevStack with its status): {total}");
}
