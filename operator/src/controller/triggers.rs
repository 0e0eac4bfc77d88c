//! What the stack's own objects tell the controller: the watches that wake a stack's reconcile.
//!
//! - Deployments and StatefulSets wake their stack only when something the reconcile acts on
//!   changes ([`workload_state`]): the generation (a hand edit of the spec, our own apply),
//!   labels or annotations, the readiness by the operator's own rule (a dependency became
//!   Ready: its dependents roll out), whether its pods are refused, the deletion mark; and
//!   always when one is deleted. The status churn of a rollout (replica counts moving one at a
//!   time, ≈ 16 status writes per 5-service stack) no longer wakes a reconcile that has
//!   nothing to do.
//! - Services, NetworkPolicies and ConfigMaps are watched metadata-only, Secrets whole; every
//!   change wakes the stack.
//!
//! Every watch keeps its objects in the reflector store the reconcile reads instead of
//! listing ([`super::cache`]): metadata, workloads without their pod template, Secrets whole.
//! A deleted object is forgotten by the record of what the operator saw hold
//! ([`super::verified`]), and so is one a re-list no longer holds (deleted while the watch was
//! down).
//!
//! All watches select only objects labelled `devstack.dev/stack`.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::PartialObjectMeta;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::cache::{Cached, Writer};
use super::observe::OwnedKind;
use super::status;
use super::verified::Verified;
use crate::render::LABEL_STACK;

fn owned_config() -> watcher::Config {
    // Only objects the renderer labels belong to a stack; the rest of the namespace is not
    // watched (less memory, fewer wake-ups).
    watcher::Config::default().labels(LABEL_STACK)
}

/// What of a Deployment's or StatefulSet's status the reconcile acts on.
pub(crate) trait WorkloadState {
    /// Ready by the operator's rule, and whether its pods are refused.
    fn state(&self) -> (bool, bool);
    /// Drops what the cache does not keep: the pod template (and the claim templates), the
    /// bulk of the object, and the status conditions no rule reads; the readiness rule reads
    /// the replicas and the status.
    fn strip(&mut self);
}

impl WorkloadState for Deployment {
    fn state(&self) -> (bool, bool) {
        let ready = status::deployment_ready(self);
        (ready, status::replica_failure(self).is_some())
    }
    fn strip(&mut self) {
        self.spec.template = Default::default();
        // Of the conditions only `ReplicaFailure` is read ([`status::replica_failure`]);
        // `Available` and `Progressing` carry long messages.
        if let Some(conditions) = self.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            let kept: Vec<_> = conditions
                .drain(..)
                .filter(|c| c.type_.as_deref() == Some("ReplicaFailure"))
                .collect();
            *conditions = kept;
        }
    }
}

impl WorkloadState for StatefulSet {
    fn state(&self) -> (bool, bool) {
        let no_pod = self.status.as_ref().is_none_or(|s| s.replicas == 0);
        (status::statefulset_ready(self), no_pod)
    }
    fn strip(&mut self) {
        self.spec.template = Default::default();
        self.spec.volume_claim_templates = None;
    }
}

/// What a workload's watch passes on: without managedFields, stripped ([`WorkloadState::strip`]).
pub(crate) fn keep_workload<K: Resource + WorkloadState>(object: &mut K) {
    super::ownership::forget_managed_fields(object.meta_mut());
    object.strip();
}

/// What a watch of whole objects passes on: without managedFields.
pub(crate) fn keep_whole<K: Resource>(object: &mut K) {
    super::ownership::forget_managed_fields(object.meta_mut());
}

/// The hash of what may call for a reconcile of a workload's stack.
pub(crate) fn workload_state<K: Resource + WorkloadState>(object: &K) -> u64 {
    let meta = object.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.deletion_timestamp.is_some().hash(&mut hasher);
    object.state().hash(&mut hasher);
    hasher.finish()
}

/// The objects of a workload watch worth a reconcile (see the module documentation), every
/// event kept in `store` (without managedFields) before it may wake a stack: the reconcile
/// reads the stack's workloads from that store ([`super::cache`]).
pub(crate) fn workloads<K>(
    api: Api<K>,
    store: super::cache::Writer<K>,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()>
        + WorkloadState
        + Cached
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let mut seen: HashMap<(Option<String>, Option<String>), u64> = HashMap::new();
    let events = watcher(api, owned_config())
        .default_backoff()
        .modify(keep_workload);
    let events = kept(events, store);
    let events = forgetting(events, verified, namespace);
    driven(wakes(events, move |object: &K, deleted| {
        let key = (object.meta().namespace.clone(), object.meta().name.clone());
        if deleted {
            seen.remove(&key);
            return true;
        }
        let hash = workload_state(object);
        seen.insert(key, hash) != Some(hash)
    }))
}

/// The objects of `events` (a watch already kept in its store) that `wanted` (the object,
/// whether it was deleted) says may call for a reconcile. The objects of a (re-)list are passed
/// on only once it is complete: the store swaps the whole list in at its end, and a
/// reconcile woken earlier would read the store from before the list (a drift seen only
/// by a re-list would go unrepaired until the next wake).
fn wakes<K, S, F>(events: S, mut wanted: F) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Send + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    F: FnMut(&K, bool) -> bool + Send + 'static,
{
    let mut listed: Vec<K> = Vec::new();
    events.flat_map(move |event| {
        let wake: Vec<Result<K, watcher::Error>> = match event {
            Ok(watcher::Event::Apply(object)) => wanted(&object, false)
                .then_some(Ok(object))
                .into_iter()
                .collect(),
            Ok(watcher::Event::Delete(object)) => {
                wanted(&object, true);
                vec![Ok(object)]
            }
            Ok(watcher::Event::Init) => {
                listed.clear();
                Vec::new()
            }
            Ok(watcher::Event::InitApply(object)) => {
                if wanted(&object, false) {
                    listed.push(object);
                }
                Vec::new()
            }
            Ok(watcher::Event::InitDone) => {
                std::mem::take(&mut listed).into_iter().map(Ok).collect()
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(wake)
    })
}

/// Every change of the objects of kind `K`, each kept whole in `store` (without
/// managedFields) before it wakes the stack ([`super::cache`]).
pub(crate) fn objects<K>(
    api: Api<K>,
    store: super::cache::Writer<K>,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Cached + DeserializeOwned + Debug,
{
    let events = watcher(api, owned_config())
        .default_backoff()
        .modify(keep_whole);
    let events = kept(events, store);
    driven(wakes(forgetting(events, verified, namespace), |_, _| true))
}

/// Every change of the objects of kind `K`, their metadata kept in `store` (without
/// managedFields) before it wakes the stack ([`super::cache`]).
pub(crate) fn metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    store: super::cache::Writer<PartialObjectMeta<K>>,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send
where
    K: OwnedKind,
{
    // kube 5: an `Api<PartialObjectMeta<K>>` lists and watches metadata only.
    let events = watcher(api, owned_config())
        .default_backoff()
        .modify(super::cache::keep_metadata);
    let events = kept(events, store);
    driven(wakes(forgetting(events, verified, namespace), |_, _| true))
}

/// `events` as they are, each kept in `store` first.
fn kept<C, S>(
    events: S,
    mut store: Writer<C>,
) -> impl Stream<Item = Result<watcher::Event<C>, watcher::Error>> + Send
where
    C: Cached,
    S: Stream<Item = Result<watcher::Event<C>, watcher::Error>> + Send,
{
    events.inspect(move |event| {
        if let Ok(event) = event {
            store.apply_watcher_event(event);
        }
    })
}

/// `events` as they are, each deletion dropping its object from `verified`, and each complete
/// (re-)list of the watch (which covers `namespace`, or every namespace) dropping the objects
/// of its kind it no longer holds: deleted while the watch was down, no delete event came.
fn forgetting<O, S>(
    events: S,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<watcher::Event<O>, watcher::Error>> + Send
where
    O: Resource<DynamicType = ()> + Send + 'static,
    S: Stream<Item = Result<watcher::Event<O>, watcher::Error>> + Send,
{
    let kind = O::kind(&()).to_string();
    let namespace = namespace.map(str::to_string);
    let mut listed = HashSet::new();
    events.inspect(move |event| match event {
        Ok(watcher::Event::Delete(object)) => verified.forget(&kind, object.meta()),
        Ok(watcher::Event::Init) => listed.clear(),
        Ok(watcher::Event::InitApply(object)) => {
            let meta = object.meta();
            let namespace = meta.namespace.clone().unwrap_or_default();
            listed.insert((namespace, meta.name.clone().unwrap_or_default()));
        }
        Ok(watcher::Event::InitDone) => {
            let listed = std::mem::take(&mut listed);
            verified.retain_listed(&kind, namespace.as_deref(), &listed);
        }
        _ => {}
    })
}

/// `stream`, polled by a task of its own and handed over through a channel: the watch (and
/// so its store, which every reconcile reads) advances whatever the controller is doing,
/// without relying on how it polls its trigger streams. The task ends when the controller
/// drops its end.
fn driven<T, S>(stream: S) -> impl Stream<Item = T> + Send
where
    T: Send + 'static,
    S: Stream<Item = T> + Send + 'static,
{
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if sender.unbounded_send(item).is_err() {
                break;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(ready: i32, generation: i64) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "ns", "generation": generation},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready}
        }))
        .unwrap()
    }

    #[test]
    fn rollout_progress_does_not_wake_but_readiness_and_edits_do() {
        let none = workload_state(&deployment(0, 1));
        let mut moving = deployment(1, 1);
        moving.status.as_mut().unwrap().available_replicas = Some(1);
        assert_eq!(
            workload_state(&moving),
            none,
            "1 of 2 ready: nothing to act on"
        );
        assert_ne!(workload_state(&deployment(2, 1)), none, "ready");
        assert_ne!(workload_state(&deployment(0, 2)), none, "spec edited");
        let mut labelled = deployment(0, 1);
        labelled.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
        assert_ne!(workload_state(&labelled), none, "labels edited");
    }

    #[test]
    fn a_stripped_deployment_keeps_what_the_rules_read() {
        let condition =
            |type_: &str| json!({"type": type_, "status": "True", "message": "a long message"});
        let mut d = deployment(2, 1);
        d.spec.template =
            serde_json::from_value(json!({"spec": {"containers": [{"name": "api"}]}})).unwrap();
        d.status.as_mut().unwrap().conditions = serde_json::from_value(json!([
            condition("Available"),
            condition("Progressing"),
            condition("ReplicaFailure")
        ]))
        .unwrap();
        let state = d.state();
        d.strip();
        assert_eq!(d.spec.template, Default::default());
        let kept: Vec<&str> = d
            .status
            .as_ref()
            .unwrap()
            .conditions
            .iter()
            .flatten()
            .filter_map(|c| c.type_.as_deref())
            .collect();
        assert_eq!(kept, ["ReplicaFailure"]);
        assert_eq!(d.state(), state, "ready and refused as before");
        assert_eq!(d.state(), (true, true));
    }

    #[tokio::test]
    async fn a_relist_wakes_only_once_the_store_holds_the_list() {
        let named = |name: &str, generation: i64| {
            let mut d = deployment(0, generation);
            d.metadata.name = Some(name.into());
            d
        };
        let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(named("a", 1))),
            Ok(watcher::Event::InitDone),
            Ok(watcher::Event::Apply(named("b", 1))),
            // A re-list: `a` was edited while the watch was down.
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(named("a", 2))),
            Ok(watcher::Event::InitApply(named("b", 1))),
            Ok(watcher::Event::InitDone),
        ];
        let (store, writer) = super::super::cache::store::<Deployment>();
        let events = kept(futures::stream::iter(events), writer);
        let mut woken = Box::pin(wakes(events, |_: &Deployment, _| true));
        let mut names = Vec::new();
        while let Some(object) = woken.next().await {
            let object = object.unwrap();
            let name = object.metadata.name.as_deref().unwrap();
            let cached = store.get("ns", name).expect("in the store");
            assert_eq!(cached.metadata.generation, object.metadata.generation);
            names.push(format!(
                "{}@{}",
                object.metadata.name.unwrap(),
                object.metadata.generation.unwrap()
            ));
        }
        assert_eq!(names, ["a@1", "b@1", "a@2", "b@1"]);
    }

    #[tokio::test]
    async fn a_store_is_filled_even_while_the_controller_polls_no_trigger() {
        let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(deployment(1, 1))),
            Ok(watcher::Event::InitDone),
        ];
        let (store, writer) = super::super::cache::store::<Deployment>();
        let events = kept(futures::stream::iter(events), writer);
        let _unpolled = driven(wakes(events, |_: &Deployment, _| true));
        let ready =
            tokio::time::timeout(std::time::Duration::from_secs(5), store.wait_until_ready())
                .await
                .expect("the store was filled");
        assert!(ready);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_deleted_object_is_forgotten() {
        let verified = Arc::new(Verified::default());
        let mut d = deployment(1, 1);
        d.metadata.uid = Some("u1".into());
        d.metadata.namespace = Some("ns".into());
        verified.saw("Deployment", &d.metadata, "h");
        let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
            Ok(watcher::Event::Apply(d.clone())),
            Ok(watcher::Event::Delete(d.clone())),
        ];
        let events = forgetting(futures::stream::iter(events), verified.clone(), None);
        let woken: Vec<_> = wakes(events, |_: &Deployment, _| true).collect().await;
        assert_eq!(woken.len(), 2);
        assert!(!verified.unchanged("Deployment", &d.metadata));
        assert_eq!(
            verified.len(),
            0,
            "no memory kept for objects that are gone"
        );
    }

    #[tokio::test]
    async fn an_object_gone_from_a_relist_is_forgotten() {
        let verified = Arc::new(Verified::default());
        let named = |name: &str, namespace: &str| {
            let mut d = deployment(1, 1);
            d.metadata.name = Some(name.into());
            d.metadata.uid = Some(format!("uid-{name}"));
            d.metadata.namespace = Some(namespace.into());
            d
        };
        let (kept, gone, elsewhere) = (named("a", "ns"), named("b", "ns"), named("c", "other"));
        for d in [&kept, &gone, &elsewhere] {
            verified.saw("Deployment", &d.metadata, "h");
        }
        // The watch of `ns` re-lists after a gap in which `b` was deleted.
        let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(kept.clone())),
            Ok(watcher::Event::InitDone),
        ];
        let events = forgetting(futures::stream::iter(events), verified.clone(), Some("ns"));
        let _: Vec<_> = events.collect().await;
        assert!(verified.unchanged("Deployment", &kept.metadata));
        assert!(
            !verified.unchanged("Deployment", &gone.metadata),
            "gone: forgotten"
        );
        assert!(
            verified.unchanged("Deployment", &elsewhere.metadata),
            "another namespace's watch decides about its objects"
        );
    }
}
