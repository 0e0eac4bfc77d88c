//! The one write path of the controller: creates (POST, field manager `devstack-operator`) of
//! absent objects and server-side apply (same manager, forced) of existing ones, all labelled
//! for the stack, and deletion of the stack's own objects by uid. Rendered objects, the
//! credentials Secret, prune, reset and the finalizer all write through a [`Writer`]; each
//! write is refused unless the live object is the stack's own ([`super::ownership`]), and a
//! create fails on any same-named object.
//!
//! An apply is skipped when the object on the server already holds what we would send: the
//! desired-hash annotation matches (so nothing was added to or removed from what we want),
//! and every field we set has the same value on the server (so nobody edited it by hand).
//! That keeps an unchanged stack at zero writes per resync. An object the watch cache keeps
//! in part (metadata; a workload without its template) is compared through the record of
//! what the operator last saw it hold ([`super::verified`]): at the version recorded there,
//! with the same desired hash and metadata, it is not written; every object the operator
//! applies, or finds holding what it wants, is recorded.

use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client};
use serde_json::Value;
use tracing::debug;

use super::error::{is_conflict, is_not_found, Error};
use super::metrics::Metrics;
use super::observe::{self, OwnedKind};
use super::ownership::{self, claim, Claim};
use super::verified::Verified;
use super::{ANNOTATION_DESIRED_HASH, FIELD_MANAGER};
use crate::render::LABEL_STACK;

/// How an object is tied to the DevStack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tie {
    /// Controller owner reference: garbage-collected with the DevStack.
    Owned,
    /// No owner reference: outlives the DevStack (credentials that protect retained data).
    Unowned,
}

/// Writes the objects of one stack and remembers what it wrote.
pub(crate) struct Writer<'a> {
    client: Client,
    namespace: String,
    stack: String,
    owner: OwnerReference,
    metrics: &'a Metrics,
    verified: &'a Verified,
    /// `Kind/name` of every object written (ensures run concurrently).
    written: Mutex<Vec<String>>,
    /// `Kind/name` of every object deleted.
    deleted: Mutex<Vec<String>>,
    /// `Kind/name` of every object created (also in `written`).
    created: Mutex<Vec<String>>,
}

impl<'a> Writer<'a> {
    /// A writer for the stack whose DevStack has the controller reference `owner`, recording
    /// what it sees hold in `verified`.
    pub(crate) fn new(
        client: Client,
        namespace: &str,
        owner: OwnerReference,
        metrics: &'a Metrics,
        verified: &'a Verified,
    ) -> Self {
        Writer {
            client,
            namespace: namespace.to_string(),
            stack: owner.name.clone(),
            owner,
            metrics,
            verified,
            written: Mutex::new(Vec::new()),
            deleted: Mutex::new(Vec::new()),
            created: Mutex::new(Vec::new()),
        }
    }

    /// The API client.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The stack's namespace.
    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether `object` is this stack's own.
    pub(crate) fn claim<K: OwnedKind>(&self, object: &K) -> Claim {
        claim(object.meta(), &K::kind(&()), &self.stack, &self.owner.uid)
    }

    fn api<K: OwnedKind>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// `Kind/name` of every object written so far.
    pub(crate) fn written(&self) -> Vec<String> {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Kind/name` of every object deleted so far.
    pub(crate) fn deleted(&self) -> Vec<String> {
        self.deleted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Kind/name` of every object created so far (a subset of [`Writer::written`]).
    pub(crate) fn created(&self) -> Vec<String> {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The refusal to write `live` when it is not ours.
    fn foreign<K: OwnedKind>(&self, live: Option<&K>) -> Option<Error> {
        let live = live?;
        match self.claim(live) {
            Claim::Ours => None,
            Claim::Foreign(why) => Some(Error::Conflict {
                kind: K::kind(&()).to_string(),
                name: live.meta().name.clone().unwrap_or_default(),
                owner: why,
            }),
        }
    }

    /// Makes `desired` hold on the server (`live`: the object as observed, `None` when
    /// absent) and returns the object as the server has it. With `lock`, the apply carries
    /// the live resourceVersion, so a concurrent change fails it (409) instead of being
    /// overwritten (the credentials).
    ///
    /// An absent object is created (POST), which fails on any same-named object (409) instead
    /// of taking it over: only then is the name read, someone else's object refused
    /// ([`Error::Conflict`]) and ours (a cache that does not hold it yet) applied as read; with
    /// `lock` the 409 is the caller's. An existing object is applied with its uid, so an apply
    /// that meets another object of that name (re-created meanwhile) fails too (422). A POST
    /// leaves the fields owned by our manager with operation `Update`, which a later apply
    /// would not remove when it drops them; the first apply to such an object hands them to
    /// the `Apply` entry first ([`super::ownership::own_by_apply`]).
    pub(crate) async fn apply<K: OwnedKind>(
        &self,
        desired: K,
        live: Option<&K>,
        tie: Tie,
        lock: bool,
    ) -> Result<K, Error> {
        let retry = (live.is_none() && !lock).then(|| desired.clone());
        // Boxed: the write futures are large, and a reconcile holds many of them.
        let error = match Box::pin(self.apply_once(desired, live, tie, lock)).await {
            Err(Error::Kube { source, .. }) if retry.is_some() && is_conflict(&source) => source,
            other => return other,
        };
        let kind = K::kind(&()).to_string();
        let name = retry
            .as_ref()
            .and_then(|d| d.meta().name.clone())
            .unwrap_or_default();
        let found = observe::read_one::<K>(&self.client, &self.namespace, &name).await?;
        match (retry, found) {
            (Some(desired), Some(found)) => {
                Box::pin(self.apply_once(desired, Some(&found), tie, lock)).await
            }
            // Gone again meanwhile: the next reconcile creates it.
            _ => Err(Error::kube("create", kind, name)(error)),
        }
    }

    /// [`Writer::apply`] without the read after a failed create.
    async fn apply_once<K: OwnedKind>(
        &self,
        mut desired: K,
        live: Option<&K>,
        tie: Tie,
        lock: bool,
    ) -> Result<K, Error> {
        let kind = K::kind(&()).to_string();
        let name = desired.meta().name.clone().unwrap_or_default();
        if let Some(refusal) = self.unlabelled(&desired, &kind, &name) {
            return Err(refusal);
        }
        if let Some(refusal) = self.foreign(live) {
            return Err(refusal);
        }
        desired.meta_mut().namespace = Some(self.namespace.clone());
        desired.meta_mut().owner_references = match tie {
            Tie::Owned => Some(vec![self.owner.clone()]),
            Tie::Unowned => None,
        };
        let serialize = |source| Error::Serialize {
            kind: kind.clone(),
            name: name.clone(),
            source,
        };
        let mut value = serde_json::to_value(&desired).map_err(serialize)?;
        let hash = desired_hash(&kind, &value);
        value["metadata"]["annotations"][ANNOTATION_DESIRED_HASH] = Value::String(hash.clone());
        let Some(live) = live else {
            return self.create(desired, &kind, &name, &hash).await;
        };
        // A Secret's hash leaves its values out, so only the full comparison (its cache holds
        // whole Secrets) can tell that a value changed. At its recorded resourceVersion an
        // object is the one the operator saw hold what it wants, metadata included (the
        // metadata caches keep only the labels the operator reads); a workload's version is
        // its generation, which a label edit does not move: its metadata is compared.
        let workload = kind == "Deployment" || kind == "StatefulSet";
        let held = kind != "Secret"
            && self.verified.holds(&kind, live.meta(), &hash)
            && (!workload
                || contains(
                    &value["metadata"],
                    &serde_json::to_value(live.meta()).map_err(serialize)?,
                ));
        if held || contains(&value, &serde_json::to_value(live).map_err(serialize)?) {
            self.verified.saw(&kind, live.meta(), &hash);
            Metrics::kind(&self.metrics.unchanged, &kind);
            return Ok(live.clone());
        }
        if lock {
            value["metadata"]["resourceVersion"] =
                serde_json::to_value(&live.meta().resource_version).map_err(serialize)?;
        }
        if ownership::created_by_update(live.meta()) {
            ownership::own_by_apply(&self.api::<K>(), &kind, &name).await?;
        }
        if let Some(uid) = &live.meta().uid {
            value["metadata"]["uid"] = Value::String(uid.clone());
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = self
            .api::<K>()
            .patch(&name, &params, &Patch::Apply(&value))
            .await
            .map_err(Error::kube("apply", &kind, &name))?;
        Ok(self.wrote(&kind, &name, &hash, applied))
    }

    /// The refusal to write an object without the stack's label (the caches select by it).
    fn unlabelled<K: OwnedKind>(&self, desired: &K, kind: &str, name: &str) -> Option<Error> {
        let labelled = desired
            .meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_STACK))
            .is_some_and(|v| *v == self.stack);
        (!labelled).then(|| Error::MissingLabel {
            kind: kind.to_string(),
            name: name.to_string(),
            label: LABEL_STACK,
            value: self.stack.clone(),
        })
    }

    /// Creates an absent object with a POST (fails with 409 on any same-named object).
    async fn create<K: OwnedKind>(
        &self,
        mut desired: K,
        kind: &str,
        name: &str,
        hash: &str,
    ) -> Result<K, Error> {
        desired
            .meta_mut()
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_DESIRED_HASH.to_string(), hash.to_string());
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PostParams::default()
        };
        let created = self.api::<K>().create(&params, &desired).await;
        let created = created.map_err(Error::kube("create", kind, name))?;
        self.record(&self.created, format!("{kind}/{name}"));
        Ok(self.wrote(kind, name, hash, created))
    }

    /// Records a write of `object` (wanted as `hash`) and returns it.
    fn wrote<K: OwnedKind>(&self, kind: &str, name: &str, hash: &str, object: K) -> K {
        self.verified.saw(kind, object.meta(), hash);
        debug!(%kind, %name, "written");
        Metrics::kind(&self.metrics.applied, kind);
        self.record(&self.written, format!("{kind}/{name}"));
        object
    }

    /// Deletes `live` if it is this stack's own (checked again by the API server through the
    /// uid precondition: a re-created object of that name is never hit). Returns whether a
    /// delete was sent; a foreign object is an error.
    pub(crate) async fn delete<K: OwnedKind>(&self, live: &K) -> Result<bool, Error> {
        if let Some(refusal) = self.foreign(Some(live)) {
            return Err(refusal);
        }
        let meta = live.meta();
        if meta.deletion_timestamp.is_some() {
            return Ok(false);
        }
        let kind = K::kind(&()).to_string();
        let name = meta.name.clone().unwrap_or_default();
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: meta.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match self.api::<K>().delete(&name, &params).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(Error::kube("delete", &kind, &name)(e)),
        }
        debug!(%kind, %name, "deleted");
        self.record(&self.deleted, format!("{kind}/{name}"));
        Ok(true)
    }

    fn record(&self, list: &Mutex<Vec<String>>, object: String) {
        list.lock().unwrap_or_else(|e| e.into_inner()).push(object);
    }
}

/// A hash of what we want an object of `kind` to be (a Secret's values blanked: only its keys
/// count, the values are compared field by field and never end up in an annotation; every
/// other kind's data counts, or a changed ConfigMap would look held).
pub(crate) fn desired_hash(kind: &str, value: &Value) -> String {
    // Only a Secret is copied (to blank its values): this runs for every rendered object of
    // every pass.
    let bytes = match (kind, value.get("data")) {
        ("Secret", Some(Value::Object(_))) => {
            let mut value = value.clone();
            if let Some(Value::Object(data)) = value.get_mut("data") {
                data.values_mut().for_each(|v| *v = Value::Null);
            }
            serde_json::to_vec(&value)
        }
        _ => serde_json::to_vec(value),
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes.unwrap_or_default());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex = |b: &u8| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]].map(char::from);
    digest.as_ref()[..16].iter().flat_map(hex).collect()
}

/// Whether every field set in `desired` has the same value in `live`. Lists must match
/// element by element; fields the server fills in (defaults, status) are ignored; a field
/// desired as empty (`false`, `0`, `""`, `{}`, `[]`) may be absent on the server, which omits
/// empty values.
pub(crate) fn contains(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().all(|(key, w)| match have.get(key) {
                Some(h) => contains(w, h),
                None => is_empty(w),
            })
        }
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| contains(w, h))
        }
        (Value::Null, _) => true,
        (want, Value::Null) => is_empty(want),
        (want, have) => want == have,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_defaults_do_not_count_as_drift() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "readOnly": false}]}}}});
        let live = json!({"spec": {"replicas": 1, "revisionHistoryLimit": 10, "template": {"metadata": {"creationTimestamp": null}, "spec": {"containers": [{"name": "a", "image": "x:1", "terminationMessagePath": "/dev/termination-log"}]}}}, "status": {"readyReplicas": 1}});
        assert!(contains(&desired, &live));
    }

    #[test]
    fn edits_and_removals_count_as_drift() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]}}}});
        let edited = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]}}}});
        let env_removed = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        let env_added = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}});
        assert!(!contains(&desired, &edited));
        assert!(!contains(&desired, &env_removed));
        assert!(!contains(&desired, &env_added));
    }

    #[test]
    fn hash_ignores_secret_values_but_not_keys() {
        let a = json!({"kind": "Secret", "data": {"K": "dmFsdWUx"}});
        let b = json!({"kind": "Secret", "data": {"K": "dmFsdWUy"}});
        let c = json!({"kind": "Secret", "data": {"K2": "dmFsdWUx"}});
        assert_eq!(desired_hash("Secret", &a), desired_hash("Secret", &b));
        assert_ne!(desired_hash("Secret", &a), desired_hash("Secret", &c));
        assert_eq!(desired_hash("Secret", &a).len(), 32);
    }

    #[test]
    fn hash_is_the_hex_sha256_prefix_of_the_object_as_before() {
        // The annotation written on every object: a different hash would rewrite them all.
        let old = |value: &Value| {
            let digest =
                ring::digest::digest(&ring::digest::SHA256, &serde_json::to_vec(value).unwrap());
            digest.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let policy = json!({"kind": "NetworkPolicy", "spec": {"podSelector": {}}});
        assert_eq!(desired_hash("NetworkPolicy", &policy), old(&policy));
        let secret = json!({"kind": "Secret", "data": {"K": "dmFsdWUx"}});
        let blanked = json!({"kind": "Secret", "data": {"K": null}});
        assert_eq!(desired_hash("Secret", &secret), old(&blanked));
    }

    #[test]
    fn hash_counts_config_map_values() {
        let info = json!({"kind": "ConfigMap", "data": {"config.yaml": "level: info"}});
        let debug = json!({"kind": "ConfigMap", "data": {"config.yaml": "level: debug"}});
        assert_ne!(
            desired_hash("ConfigMap", &info),
            desired_hash("ConfigMap", &debug)
        );
    }
}
