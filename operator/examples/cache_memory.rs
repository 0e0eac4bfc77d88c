//! How many bytes the operator's caches keep per stack: kube reflector stores filled with
//! 3,000 copies of K2's 5-service stack as the operator keeps it (rendered objects with a live
//! object's uid, resourceVersion, owner reference, desired hash and a workload status; the
//! owned kinds kept by `controller::footprint` exactly as the operator's watches keep them, the
//! DevStack as its reflector store keeps it), read as the process's RSS before and after each
//! store (Linux). `PROBE_UNTRIMMED=1`: the record as it was kept before session 5.
//! `DISTINCT_NAMES=1`: stack `i` is named `s<i>` (K2 names every stack `s`, so stores that
//! keep a label set or owner once share it across namespaces there).
//!
//! ```sh
//! cargo run -p devstack-operator --example cache_memory
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::{BTreeMap, HashMap};

use devstack_operator::controller::{footprint, KeptStack};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::core::DeserializeGuard;
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

/// Stack `i`'s name: `s`, as in K2, or `s<i>` with `DISTINCT_NAMES`.
fn stack_name(i: usize) -> String {
    if std::env::var_os("DISTINCT_NAMES").is_some() {
        format!("s{i}")
    } else {
        "s".into()
    }
}

fn live<K: Resource + Clone>(mut o: K, i: usize) -> K {
    let m = o.meta_mut();
    let stack = stack_name(i);
    if let Some(rest) = m.name.as_deref().and_then(|n| n.strip_prefix('s')) {
        if rest.is_empty() || rest.starts_with('-') {
            m.name = Some(format!("{stack}{rest}"));
        }
    }
    if let Some(value) = m
        .labels
        .as_mut()
        .and_then(|l| l.get_mut(devstack_core::conventions::LABEL_STACK))
    {
        value.clone_from(&stack);
    }
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
    m.owner_references = Some(vec![serde_json::from_value(serde_json::json!({"apiVersion": "devstack.dev/v1alpha1", "controller": true, "kind": "DevStack", "name": stack, "uid": format!("e8e36293-daec-4e11-8fa6-2d59d466{i:04}")})).unwrap()]);
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

/// The objects of `values` as stack `i`'s live objects, as JSON, with `status` if given.
fn live_values<K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize>(
    values: &[serde_json::Value],
    i: usize,
    status: Option<&serde_json::Value>,
) -> Vec<serde_json::Value> {
    values
        .iter()
        .map(|v| {
            let object: K = live(serde_json::from_value(v.clone()).unwrap(), i);
            let mut value = serde_json::to_value(object).unwrap();
            if let Some(status) = status {
                value["status"] = status.clone();
            }
            value
        })
        .collect()
}

/// The objects of `make(i)` for every stack, kept as the operator's watch of `kind` keeps them
/// (`devstack_operator::controller::footprint`).
fn measure_kept(what: &str, kind: &str, make: impl Fn(usize) -> Vec<serde_json::Value>) -> isize {
    let before = rss();
    let filled = footprint::keep(kind, (0..STACKS).flat_map(make)).unwrap();
    let after = rss();
    let count = filled.objects() / STACKS;
    std::mem::forget(filled);
    let per = (after - before) / STACKS as isize;
    eprintln!("{what:>30}: {per:>7} B per stack ({count} objects)");
    per
}

/// The owned kinds' caches, as the operator keeps them.
fn measure_caches(by_kind: &BTreeMap<&'static str, Vec<serde_json::Value>>) -> isize {
    let of = |kind: &str| by_kind.get(kind).cloned().unwrap_or_default();
    let (policies, services) = (of("NetworkPolicy"), of("Service"));
    let (deployments, statefulsets, secrets) = (of("Deployment"), of("StatefulSet"), of("Secret"));
    let mut total = 0;
    total += measure_kept("policies (metadata)", "NetworkPolicy", |i| {
        live_values::<NetworkPolicy>(&policies, i, None)
    });
    total += measure_kept("services (metadata)", "Service", |i| {
        live_values::<Service>(&services, i, None)
    });
    let status = serde_json::json!({"availableReplicas":1,"conditions":[{"lastTransitionTime":"2026-12-06T11:55:17Z","lastUpdateTime":"2026-12-06T11:55:17Z","message":"Deployment has minimum availability.","reason":"MinimumReplicasAvailable","status":"True","type":"Available"},{"lastTransitionTime":"2026-12-06T11:55:14Z","lastUpdateTime":"2026-12-06T11:55:17Z","message":"ReplicaSet \"api-6d4cf56db6\" has successfully progressed.","reason":"NewReplicaSetAvailable","status":"True","type":"Progressing"}],"observedGeneration":1,"readyReplicas":1,"replicas":1,"updatedReplicas":1});
    total += measure_kept("deployments", "Deployment", |i| {
        live_values::<Deployment>(&deployments, i, Some(&status))
    });
    let status = serde_json::json!({"availableReplicas":1,"collisionCount":0,"currentReplicas":1,"currentRevision":"db-5b8f","observedGeneration":1,"readyReplicas":1,"replicas":1,"updateRevision":"db-5b8f","updatedReplicas":1});
    total += measure_kept("statefulsets", "StatefulSet", |i| {
        live_values::<StatefulSet>(&statefulsets, i, Some(&status))
    });
    total += measure_kept("secrets", "Secret", |i| {
        live_values::<Secret>(&secrets, i, None)
    });
    total
}

/// The DevStack cache: the stack with its status as the controller keeps it (and, for
/// comparison, without status, and as our types as it was kept before session 6).
fn measure_devstack(stack: &devstack_core::DevStack) -> isize {
    let status = serde_json::json!({"conditions":[{"lastTransitionTime":"2026-12-06T11:55:20Z","message":"all 5 services are ready","observedGeneration":1,"reason":"Ready","status":"True","type":"Ready"},{"lastTransitionTime":"2026-12-06T11:55:20Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Reconciling"},{"lastTransitionTime":"2026-12-06T11:55:11Z","message":"","observedGeneration":1,"reason":"Ready","status":"False","type":"Stalled"}],"connectionSecret":"s-connections","observedGeneration":1,"readyServices":5,"observedObjects":"5cd75fac394d9a0fb70901b57e5008c45cd75fac394d9a0fb70901b57e5008c4","services":{"api":{"endpoint":"api:8080","image":"registry.local/api:1","ready":true},"cache":{"endpoint":"cache:6379","image":"redis:8","ready":true},"db":{"endpoint":"db:5432","image":"postgres:18","ready":true},"web":{"endpoint":"web:3000","image":"registry.local/web:1","ready":true},"worker":{"image":"registry.local/worker:1","ready":true}}});
    let kept = |s: devstack_core::DevStack| KeptStack::keep(DeserializeGuard(Ok(s)));
    let with_status = measure::<KeptStack>("devstack (with status)", |i| {
        let mut s = live(stack.clone(), i);
        s.status = Some(serde_json::from_value(status.clone()).unwrap());
        vec![kept(s)]
    });
    measure::<KeptStack>("devstack (without status)", |i| {
        vec![kept(live(stack.clone(), i))]
    });
    measure::<devstack_core::DevStack>("devstack (as our types, before)", |i| {
        let mut s = live(stack.clone(), i);
        s.status = Some(serde_json::from_value(status.clone()).unwrap());
        vec![s]
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
    let mut record: HashMap<u64, (u32, u32, u64, u64)> = HashMap::new();
    for n in 0..STACKS as u64 * 19 {
        record.insert(n.wrapping_mul(0x9e3779b97f4a7c15), (1, 2, 3, 4));
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
