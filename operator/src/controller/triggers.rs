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
//!   change wakes the stack but one that leaves an object at the version the operator recorded
//!   for it (the event of its own write: [`changed_by_others`]), and a workload's creation by
//!   the operator wakes it no more than its own write does (not ready, not refused).
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
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::PartialObjectMeta;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::cache::{Cached, Writer};
use super::observe::OwnedKind;
use super::status;
use super::verified::Verified;
use super::woken::Woken;
use crate::render::LABEL_STACK;

/// The Deployment controller's annotation of the rollout's revision.
const REVISION: &str = "deployment.kubernetes.io/revision";

/// Objects per page of a (re-)list of whole objects (workloads with their pod templates,
/// Secrets), where the API server serves no streaming list ([`super::listing`]). kube lists
/// 500 at a time and parses a page at once: 500 workloads with templates and managedFields
/// are ≈ 12 MB before they are stripped, a restart's high-water mark. At 100, a restart over
/// 1,000 stacks costs ≈ 70 LISTs of these kinds instead of ≈ 14 (0.07 per stack).
const WHOLE_OBJECTS_PAGE: u32 = 100;

/// Objects per page of a metadata-only (re-)list: kube's default.
const METADATA_PAGE: u32 = 500;

/// The watch of `api` under `config`, its initial state streamed where the API server can
/// ([`super::listing`]).
fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    super::listing::streamed_or_paged(move |config| watcher(api.clone(), config), config)
}

fn owned_config(page: u32) -> watcher::Config {
    // Only objects the renderer labels belong to a stack; the rest of the namespace is not
    // watched (less memory, fewer wake-ups).
    watcher::Config::default()
        .labels(LABEL_STACK)
        .page_size(page)
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
    // The Deployment controller's revision follows the generation, and the reconcile never
    // compares it: its first appearance right after a create woke a pass with nothing to do.
    let annotations = meta.annotations.iter().flatten();
    annotations
        .filter(|(k, _)| k.as_str() != REVISION)
        .for_each(|a| a.hash(&mut hasher));
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
) -> impl Stream<Item = Result<Woken<K>, watcher::Error>> + Send
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
    let events = watch(api, owned_config(WHOLE_OBJECTS_PAGE))
        .default_backoff()
        .modify(keep_workload);
    let events = kept(events, store);
    let wanted = workload_wakes::<K>(&verified);
    driven(wakes(forgetting(events, verified, namespace), wanted))
}

/// Whether an event of a workload of kind `K` may call for a reconcile: a deletion always; a
/// change of its [`workload_state`]; its first sight unless it is neither ready nor refused
/// and as this operator's create made it — recorded as written ([`Verified::unchanged`]), or
/// (its event may come before the create's answer is recorded) at generation 1 under a
/// DevStack's controller reference: the pass that created it knows all it says.
pub(super) fn workload_wakes<K: Resource<DynamicType = ()> + WorkloadState>(
    verified: &Arc<Verified>,
) -> impl FnMut(&K, bool) -> bool + Send + 'static {
    let (verified, kind) = (verified.clone(), K::kind(&()).to_string());
    let mut seen: HashMap<(Option<String>, Option<String>), u64> = HashMap::new();
    move |object, deleted| {
        let key = (object.meta().namespace.clone(), object.meta().name.clone());
        if deleted {
            seen.remove(&key);
            return true;
        }
        let hash = workload_state(object);
        match seen.insert(key, hash) {
            Some(previous) => previous != hash,
            None => {
                let (meta, fresh) = (object.meta(), object.state() == (false, false));
                !(fresh && (verified.unchanged(&kind, meta) || just_created(meta)))
            }
        }
    }
}

/// The objects of `events` (a watch already kept in its store) that `wanted` (the object,
/// whether it was deleted) says may call for a reconcile. The objects of a (re-)list are passed
/// on only once it is complete: the store swaps the whole list in at its end, and a
/// reconcile woken earlier would read the store from before the list (a drift seen only
/// by a re-list would go unrepaired until the next wake). Of a list, one object per owner is
/// passed on (the controller wakes owners, not objects): after a restart over 1,000 stacks,
/// holding every listed object until the list was complete (9,000 NetworkPolicies, …) and
/// then queueing them all was the process's high-water mark. What is passed on is whom the
/// object wakes ([`Woken`]), not the object.
pub(super) fn wakes<K, S, F>(
    events: S,
    mut wanted: F,
) -> impl Stream<Item = Result<Woken<K>, watcher::Error>> + Send
where
    K: Resource + Send + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    F: FnMut(&K, bool) -> bool + Send + 'static,
{
    let mut listed: Vec<Woken<K>> = Vec::new();
    let mut owners: HashSet<Waker> = HashSet::new();
    events.flat_map(move |event| {
        let wake: Vec<Result<Woken<K>, watcher::Error>> = match event {
            Ok(watcher::Event::Apply(object)) => wanted(&object, false)
                .then(|| Ok(Woken::of(&object)))
                .into_iter()
                .collect(),
            Ok(watcher::Event::Delete(object)) => {
                wanted(&object, true);
                vec![Ok(Woken::of(&object))]
            }
            Ok(watcher::Event::Init) => {
                listed.clear();
                owners.clear();
                Vec::new()
            }
            Ok(watcher::Event::InitApply(object)) => {
                if wanted(&object, false) && owners.insert(Waker::of(&object)) {
                    listed.push(Woken::of(&object));
                }
                Vec::new()
            }
            Ok(watcher::Event::InitDone) => {
                owners = HashSet::new();
                std::mem::take(&mut listed).into_iter().map(Ok).collect()
            }
            Err(error) => vec![Err(error)],
        };
        futures::stream::iter(wake)
    })
}

/// Whom an object wakes: its owners (by uid) in its namespace; an object without owners
/// wakes no stack and stands for itself.
#[derive(Hash, PartialEq, Eq)]
enum Waker {
    Owners(Option<String>, Vec<String>),
    Unowned(Option<String>, Option<String>),
}

impl Waker {
    fn of<K: Resource>(object: &K) -> Self {
        let meta = object.meta();
        let owners: Vec<String> = meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| o.uid.clone())
            .collect();
        if owners.is_empty() {
            Waker::Unowned(meta.namespace.clone(), meta.name.clone())
        } else {
            Waker::Owners(meta.namespace.clone(), owners)
        }
    }
}

/// Every change of the objects of kind `K`, each kept whole in `store` (without
/// managedFields) before it wakes the stack ([`super::cache`]).
pub(crate) fn objects<K>(
    api: Api<K>,
    store: super::cache::Writer<K>,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<Woken<K>, watcher::Error>> + Send
where
    K: Cached + DeserializeOwned + Debug,
{
    let events = watch(api, owned_config(WHOLE_OBJECTS_PAGE))
        .default_backoff()
        .modify(keep_whole);
    let events = kept(events, store);
    let wanted = changed_by_others::<K>(&verified);
    driven(wakes(forgetting(events, verified, namespace), wanted))
}

/// Every change of the objects of kind `K`, their metadata kept in `store` (without
/// managedFields) before it wakes the stack ([`super::cache`]).
pub(crate) fn metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    store: super::cache::Writer<PartialObjectMeta<K>>,
    verified: Arc<Verified>,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<Woken<PartialObjectMeta<K>>, watcher::Error>> + Send
where
    K: OwnedKind,
{
    // kube 5: an `Api<PartialObjectMeta<K>>` lists and watches metadata only.
    let events = watch(api, owned_config(METADATA_PAGE))
        .default_backoff()
        .modify(super::cache::keep_metadata);
    let events = kept(events, store);
    let wanted = changed_by_others::<PartialObjectMeta<K>>(&verified);
    driven(wakes(forgetting(events, verified, namespace), wanted))
}

/// Whether `meta` is of a workload as a DevStack's reconcile creates it: at generation 1,
/// controlled by a DevStack.
fn just_created(meta: &ObjectMeta) -> bool {
    let by_a_stack = |o: &OwnerReference| o.controller == Some(true) && o.kind == "DevStack";
    meta.generation == Some(1) && meta.owner_references.iter().flatten().any(by_a_stack)
}

/// Whether an event of an object of kind `K` may call for a reconcile: a deletion always; a
/// change unless the object is at the version this operator recorded for it
/// ([`Verified::unchanged`]: right after its own write returned, or a pass saw it hold), which
/// the pass that recorded it has acted on. An event that arrives before the write's answer
/// was recorded still wakes.
pub(super) fn changed_by_others<O: Resource<DynamicType = ()>>(
    verified: &Arc<Verified>,
) -> impl FnMut(&O, bool) -> bool + Send + 'static {
    let (verified, kind) = (verified.clone(), O::kind(&()).to_string());
    move |object, deleted| deleted || !verified.unchanged(&kind, object.meta())
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
#[path = "triggers_tests.rs"]
mod tests;
