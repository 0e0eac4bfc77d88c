//! What wakes a reconcile of a DevStack, and what does not.
//!
//! The DevStack watch passes an object on only when [`wake_hash`] changes: its generation
//! (the spec, and the deletion mark: setting `deletionTimestamp` bumps it), its annotations
//! (the reset request) and its finalizers other than ours. A status write (every reconcile
//! that changes the status makes one) changes none of them, so it no longer wakes a reconcile
//! that has nothing to do (≈ 6 reconciles per stack before). Our own finalizer is left out
//! because the reconcile adds it and goes on in the same pass ([`with_finalizer`]): the event
//! of that write has nothing new to tell. A restart sees every stack once (the predicate's
//! cache starts empty), and the periodic resync still looks at each stack.
//!
//! Owned objects (Deployments becoming ready, a Service deleted by hand) wake their stack
//! through the `owns` watches, unfiltered.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use devstack_core::types::DevStack;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::{Error, FINALIZER};

/// The hash of what may call for a reconcile (see the module documentation).
pub(crate) fn wake_hash<K: Resource>(object: &K) -> Option<u64> {
    let meta = object.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.deletion_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .hash(&mut hasher);
    for finalizer in meta.finalizers.iter().flatten() {
        if finalizer != FINALIZER {
            finalizer.hash(&mut hasher);
        }
    }
    Some(hasher.finish())
}

/// `stack` with our finalizer: added (one merge patch carrying the resourceVersion, so a
/// concurrent change fails it instead of being overwritten) unless it is there or the stack
/// is being deleted. Returns the stack as the server has it, so the same reconcile goes on to
/// apply it (kube's `finalizer` helper would end the pass here and wait for the next event).
pub(crate) async fn with_finalizer(
    api: &Api<DevStack>,
    stack: DevStack,
) -> Result<DevStack, Error> {
    if stack.meta().deletion_timestamp.is_some()
        || stack.finalizers().iter().any(|f| f == FINALIZER)
    {
        return Ok(stack);
    }
    let name = stack.name_any();
    let mut finalizers = stack.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": stack.resource_version()}});
    let mut patched = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube("patch", "DevStack", &name))?;
    patched.managed_fields_mut().clear();
    Ok(patched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::devstack;

    #[test]
    fn status_writes_and_our_finalizer_do_not_wake() {
        let stack = devstack("    db: {type: postgres}\n");
        let base = wake_hash(&stack);
        let mut status_only = stack.clone();
        status_only.status = Some(Default::default());
        status_only.metadata.resource_version = Some("99".into());
        assert_eq!(wake_hash(&status_only), base);
        let mut without_ours = stack.clone();
        without_ours.metadata.finalizers = None;
        assert_eq!(wake_hash(&without_ours), base);

        let mut edited = stack.clone();
        edited.metadata.generation = Some(2);
        assert_ne!(wake_hash(&edited), base, "spec change");
        let mut reset = stack.clone();
        reset
            .annotations_mut()
            .insert("devstack.dev/reset".into(), "1".into());
        assert_ne!(wake_hash(&reset), base, "reset request");
        let mut other = stack.clone();
        other.finalizers_mut().push("example.com/keep".into());
        assert_ne!(wake_hash(&other), base, "someone else's finalizer");
    }
}
