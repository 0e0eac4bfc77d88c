//! What the stack's own objects tell the controller: the watches that wake a stack's reconcile.
//!
//! - Deployments and StatefulSets wake their stack only when something the reconcile acts on
//!   changes ([`workload_state`]): the generation (a hand edit of the spec, our own apply),
//!   labels or annotations, the readiness by the operator's own rule (a dependency became
//!   Ready: its dependents roll out), whether its pods are refused, the deletion mark; and
//!   always when one is deleted. The status churn of a rollout (replica counts moving one at a
//!   time, ≈ 16 status writes per 5-service stack) no longer wakes a reconcile that has
//!   nothing to do.
//! - Secrets, Services and NetworkPolicies are watched metadata-only (their bodies are never
//!   read from the watch), every change waking the stack.
//!
//!   The workload watches also keep their objects in the reflector stores the reconcile reads
//!   instead of listing ([`super::cache`]).
//!
//! All watches select only objects labelled `devstack.dev/stack`.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::status;
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
}

impl WorkloadState for Deployment {
    fn state(&self) -> (bool, bool) {
        let ready = status::deployment_ready(self);
        (ready, status::replica_failure(self).is_some())
    }
}

impl WorkloadState for StatefulSet {
    fn state(&self) -> (bool, bool) {
        let no_pod = self.status.as_ref().is_none_or(|s| s.replicas == 0);
        (status::statefulset_ready(self), no_pod)
    }
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
    store: reflector::store::Writer<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()>
        + WorkloadState
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let mut seen: HashMap<(Option<String>, Option<String>), u64> = HashMap::new();
    watcher(api, owned_config())
        .default_backoff()
        .modify(|object| object.meta_mut().managed_fields = None)
        .reflect(store)
        .filter_map(move |event| {
            let wake = match event {
                Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                    let key = (object.meta().namespace.clone(), object.meta().name.clone());
                    let hash = workload_state(&object);
                    (seen.insert(key, hash) != Some(hash)).then_some(Ok(object))
                }
                Ok(watcher::Event::Delete(object)) => {
                    seen.remove(&(object.meta().namespace.clone(), object.meta().name.clone()));
                    Some(Ok(object))
                }
                Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                Err(error) => Some(Err(error)),
            };
            futures::future::ready(wake)
        })
}

/// Every change of the objects of kind `K`, each kept in `store` (without managedFields)
/// before it wakes the stack ([`super::cache`]).
pub(crate) fn objects<K>(
    api: Api<K>,
    store: reflector::store::Writer<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    watcher(api, owned_config())
        .default_backoff()
        .modify(|object| object.meta_mut().managed_fields = None)
        .reflect(store)
        .touched_objects()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(ready: i32, generation: i64) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "api", "generation": generation},
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
}
