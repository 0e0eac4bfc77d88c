//! What an owned object's event hands the controller: the object's name, namespace and owner
//! references, from which kube's `owns_stream` finds the stacks to wake, and the version that
//! woke them (kube's reconcile reason names it) — not the object.
//!
//! A whole object passed on costs what it holds (a Deployment with its pod template is
//! several KiB) for as long as it waits in a queue, and a (re-)list queues one per stack:
//! after a restart over 1,000 stacks, the listed objects waiting to wake their stacks were
//! ≈ 14 MB of the process's 34 MB high-water mark of heap. This is ≈ 300 bytes.

use std::borrow::Cow;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

/// The part of an object of kind `K` that says whom it wakes.
#[derive(Debug)]
pub(crate) struct Woken<K> {
    pub(crate) metadata: ObjectMeta,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Woken<K> {
    /// Whom `object` wakes.
    pub(crate) fn of(object: &K) -> Self {
        let meta = object.meta();
        Woken {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                resource_version: meta.resource_version.clone(),
                generation: meta.generation,
                owner_references: meta.owner_references.clone(),
                ..ObjectMeta::default()
            },
            kind: PhantomData,
        }
    }
}

impl<K: Resource> Resource for Woken<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &K::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &K::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &K::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &K::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    use super::*;

    fn owned_deployment() -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "team", "generation": 3, "labels": {"a": "b"},
                "ownerReferences": [{"apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack",
                    "name": "demo", "uid": "u1", "controller": true}]},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "api", "image": "x"}]}}}
        }))
        .unwrap()
    }

    #[test]
    fn it_keeps_whom_the_object_wakes_and_nothing_else() {
        let deployment = owned_deployment();
        let woken = Woken::of(&deployment);
        assert_eq!(woken.metadata.name.as_deref(), Some("api"));
        assert_eq!(woken.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(
            woken.metadata.owner_references,
            deployment.metadata.owner_references
        );
        assert_eq!(woken.metadata.generation, Some(3));
        assert_eq!(woken.metadata.labels, None);
        assert_eq!(Woken::<Deployment>::kind(&()), "Deployment");
        assert_eq!(Woken::<Deployment>::group(&()), "apps");
    }

    #[tokio::test]
    async fn kube_wakes_the_stack_that_owns_the_object() {
        use futures::StreamExt;
        let woken = Woken::of(&owned_deployment());
        let events = futures::stream::iter([Ok::<_, std::convert::Infallible>(woken)]);
        let requests: Vec<_> =
            kube::runtime::controller::trigger_owners::<super::super::KeptStack, _>(events, (), ())
                .collect()
                .await;
        let [Ok(request)] = requests.as_slice() else {
            panic!("one request: {requests:?}");
        };
        assert_eq!(request.obj_ref.name, "demo");
        assert_eq!(request.obj_ref.namespace.as_deref(), Some("team"));
    }
}
