//! A DevStack as the controller's cache keeps it: its metadata, and its spec and status as
//! compact JSON text, parsed again by each reconcile ([`KeptStack::expand`]).
//!
//! Kept as our types, one DevStack of five services cost ≈ 15 KB: each service's spec is ≈ 840
//! bytes of mostly empty options, and a map's B-tree leaf holds room for eleven of them. As
//! text it is the few hundred bytes the user wrote. Parsing it back costs a reconcile
//! microseconds. A DevStack the watch cannot read into our types is kept as kube's
//! [`DeserializeGuard`] reports it (the reconcile says why and touches nothing).

use std::borrow::Cow;

use devstack_core::types::DevStack;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use kube::core::error_boundary::InvalidObject;
use kube::core::DeserializeGuard;
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// A DevStack as the controller's cache keeps it (see the module documentation).
#[derive(Clone, Debug)]
pub struct KeptStack {
    metadata: ObjectMeta,
    body: Result<Body, String>,
}

/// The spec and status as JSON text.
#[derive(Clone, Debug)]
struct Body {
    spec: Box<str>,
    status: Option<Box<str>>,
}

impl KeptStack {
    /// What the cache keeps of `guard`.
    pub fn keep(guard: DeserializeGuard<DevStack>) -> Self {
        match guard.0 {
            Ok(stack) => {
                let body = serde_json::to_string(&stack.spec).and_then(|spec| {
                    let status = stack.status.as_ref().map(serde_json::to_string);
                    Ok(Body {
                        spec: spec.into(),
                        status: status.transpose()?.map(Into::into),
                    })
                });
                KeptStack {
                    metadata: stack.metadata,
                    body: body.map_err(|e| e.to_string()),
                }
            }
            Err(invalid) => KeptStack {
                metadata: invalid.metadata,
                body: Err(invalid.error),
            },
        }
    }

    /// The DevStack again, as the watch read it (or why it could not).
    pub fn expand(&self) -> DeserializeGuard<DevStack> {
        let invalid = |error: String| InvalidObject {
            error,
            metadata: self.metadata.clone(),
        };
        let stack = match &self.body {
            Ok(body) => parse(body).map_err(|e| invalid(e.to_string())),
            Err(error) => Err(invalid(error.clone())),
        }
        .map(|(spec, status)| DevStack {
            metadata: self.metadata.clone(),
            spec,
            status,
        });
        DeserializeGuard(stack)
    }
}

type Parsed = (
    devstack_core::types::DevStackSpec,
    Option<devstack_core::types::DevStackStatus>,
);

fn parse(body: &Body) -> serde_json::Result<Parsed> {
    let spec = serde_json::from_str(&body.spec)?;
    let status = body
        .status
        .as_deref()
        .map(serde_json::from_str)
        .transpose()?;
    Ok((spec, status))
}

impl<'de> Deserialize<'de> for KeptStack {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DeserializeGuard::<DevStack>::deserialize(deserializer).map(KeptStack::keep)
    }
}

impl Resource for KeptStack {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        DevStack::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        DevStack::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        DevStack::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        DevStack::plural(dt)
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

    use super::*;

    #[test]
    fn a_stack_comes_back_as_it_was_read() {
        let object = serde_json::json!({
            "apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack",
            "metadata": {"name": "demo", "namespace": "team", "generation": 3},
            "spec": {"services": {
                "db": {"type": "postgres", "storage": {"size": "1Gi"}},
                "api": {"image": "ghcr.io/acme/api:1", "dependsOn": ["db"], "env": {"A": "b"}}
            }},
            "status": {"observedGeneration": 2, "readyServices": 1}
        });
        let read: DeserializeGuard<DevStack> = serde_json::from_value(object.clone()).unwrap();
        let kept: KeptStack = serde_json::from_value(object).unwrap();
        let back = kept.expand().0.unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(read.0.unwrap()).unwrap()
        );
        assert_eq!(kept.meta().generation, Some(3));
    }

    #[test]
    fn an_unreadable_stack_keeps_kubes_reason() {
        let object = serde_json::json!({
            "apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack",
            "metadata": {"name": "demo", "namespace": "team"},
            "spec": {"services": {"db": {"type": 42}}}
        });
        let read: DeserializeGuard<DevStack> = serde_json::from_value(object.clone()).unwrap();
        let kept: KeptStack = serde_json::from_value(object).unwrap();
        let expected = read.0.unwrap_err().error;
        let invalid = kept.expand().0.unwrap_err();
        assert_eq!(invalid.error, expected);
        assert_eq!(invalid.metadata.name.as_deref(), Some("demo"));
    }
}
