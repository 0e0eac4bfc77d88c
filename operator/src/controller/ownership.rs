//! Which objects are this stack's own: the one rule every write and delete of the controller
//! checks first.
//!
//! An object is the stack's own when the operator labelled it for this stack
//! (`devstack.dev/stack=<stack>` and `app.kubernetes.io/managed-by=devstack`) and no other
//! object controls it (no controller owner reference with another uid). A same-named object
//! made by Helm or kubectl, or one of another stack, is foreign: the reconcile reports it as a
//! `Conflict` and writes nothing; reset and deletion leave it alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, ObjectMeta};
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::{json, Value};

use super::error::{is_conflict, Error};
use super::observe::OwnedKind;
use super::FIELD_MANAGER;
use crate::render::{LABEL_STACK, MANAGED_BY};

/// The label the renderer sets to [`MANAGED_BY`] on every object.
pub(crate) const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// Whom an object belongs to, as far as one stack is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Labelled for this stack and controlled by it or by nothing.
    Ours,
    /// Anything else; the text says why (for the status and the Event).
    Foreign(String),
}

/// Whether the object of kind `kind` with `meta` belongs to stack `stack` whose DevStack has
/// `uid`. A claim may be controlled by its StatefulSet (`whenDeleted: Delete`); only its
/// labels decide.
pub(crate) fn claim(meta: &ObjectMeta, kind: &str, stack: &str, uid: &str) -> Claim {
    let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key));
    let managed = label(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY);
    if let Some(other) = label(LABEL_STACK).filter(|s| managed && s.as_str() != stack) {
        return Claim::Foreign(format!("belongs to stack {other}"));
    }
    if label(LABEL_STACK).map(String::as_str) != Some(stack)
        || label(LABEL_MANAGED_BY).map(String::as_str) != Some(MANAGED_BY)
    {
        return Claim::Foreign(format!(
            "not labelled {LABEL_STACK}={stack} and {LABEL_MANAGED_BY}={MANAGED_BY} (made by someone else)"
        ));
    }
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .filter(|o| !(kind == "PersistentVolumeClaim" && o.kind == "StatefulSet"))
        .find(|o| o.controller == Some(true) && o.uid != uid);
    match controller {
        Some(other) => Claim::Foreign(format!("controlled by {} {}", other.kind, other.name)),
        None => Claim::Ours,
    }
}

/// A local mark on a cached or read object (never written: the write path builds every
/// request from the rendered object): our manager owns fields of it with operation `Update`,
/// i.e. it was created by a POST ([`super::write::Writer::apply`]) and not applied since.
const MARK_CREATED_BY_UPDATE: &str = "devstack.dev/local-created-by-update";

/// Drops `meta`'s managedFields (kept by no cache: several KiB per object), marking it when our
/// manager owns fields with operation `Update` (see [`own_by_apply`]).
pub(crate) fn forget_managed_fields(meta: &mut ObjectMeta) {
    let by_update = meta.managed_fields.iter().flatten().any(ours_by_update);
    meta.managed_fields = None;
    if by_update {
        meta.annotations
            .get_or_insert_with(Default::default)
            .insert(MARK_CREATED_BY_UPDATE.to_string(), "true".to_string());
    }
}

/// Whether `meta` carries the mark of [`forget_managed_fields`].
pub(crate) fn created_by_update(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MARK_CREATED_BY_UPDATE))
}

fn ours_by_update(entry: &ManagedFieldsEntry) -> bool {
    entry.manager.as_deref() == Some(FIELD_MANAGER)
        && entry.operation.as_deref() == Some("Update")
        && entry.subresource.as_deref().unwrap_or_default().is_empty()
}

/// Hands the fields our manager owns with operation `Update` (a POST) to its `Apply` entry, so
/// that an apply that later drops one of them removes it from the object (fields owned by an
/// `Update` entry are not removed by an apply). One read and one write of `metadata.
/// managedFields` (the documented way to change field ownership by hand: a write of
/// managedFields through any operation but apply), guarded by the resourceVersion read; a
/// workload's controller moves that version with every status write, so a 409 reads again
/// (up to [`HANDOVER_ATTEMPTS`] times) instead of failing the reconcile.
pub(crate) async fn own_by_apply<K: OwnedKind>(
    api: &Api<K>,
    kind: &str,
    name: &str,
) -> Result<(), Error> {
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let mut attempt = 1;
    loop {
        let live = api
            .get(name)
            .await
            .map_err(Error::kube("read", kind, name))?;
        let managed = live.meta().managed_fields.as_deref().unwrap_or_default();
        let Some(entries) = handed_to_apply(managed) else {
            return Ok(());
        };
        let patch = json!({"metadata": {
            "resourceVersion": live.meta().resource_version,
            "managedFields": entries,
        }});
        match api.patch(name, &params, &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(e) if is_conflict(&e) && attempt < HANDOVER_ATTEMPTS => attempt += 1,
            Err(e) => return Err(Error::kube("hand over fields of", kind, name)(e)),
        }
    }
}

/// Reads and writes of [`own_by_apply`] before a moving object fails the reconcile.
const HANDOVER_ATTEMPTS: u32 = 4;

/// `entries` with our `Update` entry merged into our `Apply` entry (made from it when there is
/// none); `None` when there is no such `Update` entry.
fn handed_to_apply(entries: &[ManagedFieldsEntry]) -> Option<Vec<ManagedFieldsEntry>> {
    let update = entries.iter().find(|e| ours_by_update(e))?.clone();
    let mut kept: Vec<ManagedFieldsEntry> = entries
        .iter()
        .filter(|e| !ours_by_update(e))
        .cloned()
        .collect();
    let ours_applied = |e: &&mut ManagedFieldsEntry| {
        e.manager.as_deref() == Some(FIELD_MANAGER) && e.operation.as_deref() == Some("Apply")
    };
    match kept.iter_mut().find(ours_applied) {
        Some(apply) => {
            let mut fields = apply.fields_v1.take().map(|f| f.0).unwrap_or(Value::Null);
            merge_fields(
                &mut fields,
                update.fields_v1.as_ref().map_or(&Value::Null, |f| &f.0),
            );
            apply.fields_v1 = Some(FieldsV1(fields));
        }
        None => kept.push(ManagedFieldsEntry {
            operation: Some("Apply".to_string()),
            ..update
        }),
    }
    Some(kept)
}

/// `into` ∪ `from` (fieldsV1 sets are nested objects).
fn merge_fields(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                merge_fields(into.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (into @ Value::Null, from) => *into = from.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn meta(labels: &[(&str, &str)], controller_uid: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
            ),
            owner_references: controller_uid.map(|uid| {
                vec![OwnerReference {
                    kind: "DevStack".into(),
                    name: "other".into(),
                    uid: uid.into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]
            }),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn labelled_and_uncontrolled_or_ours_is_ours() {
        let labels = [(LABEL_STACK, "demo"), (LABEL_MANAGED_BY, MANAGED_BY)];
        assert_eq!(
            claim(&meta(&labels, None), "Service", "demo", "u1"),
            Claim::Ours
        );
        assert_eq!(
            claim(&meta(&labels, Some("u1")), "Service", "demo", "u1"),
            Claim::Ours
        );
    }

    #[test]
    fn unlabelled_other_stack_or_other_controller_is_foreign() {
        let helm = meta(&[(LABEL_MANAGED_BY, "Helm")], None);
        assert!(matches!(
            claim(&helm, "Deployment", "demo", "u1"),
            Claim::Foreign(_)
        ));
        let other_stack = meta(&[(LABEL_STACK, "x"), (LABEL_MANAGED_BY, MANAGED_BY)], None);
        assert_eq!(
            claim(&other_stack, "Secret", "demo", "u1"),
            Claim::Foreign("belongs to stack x".into())
        );
        let labels = [(LABEL_STACK, "demo"), (LABEL_MANAGED_BY, MANAGED_BY)];
        assert_eq!(
            claim(&meta(&labels, Some("u2")), "Deployment", "demo", "u1"),
            Claim::Foreign("controlled by DevStack other".into())
        );
    }

    fn entry(
        manager: &str,
        operation: &str,
        subresource: &str,
        fields: Value,
    ) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            subresource: (!subresource.is_empty()).then(|| subresource.into()),
            fields_v1: Some(FieldsV1(fields)),
            ..ManagedFieldsEntry::default()
        }
    }

    #[test]
    fn the_fields_of_our_update_entry_are_handed_to_our_apply_entry() {
        let status = entry(
            "kube-controller-manager",
            "Update",
            "status",
            json!({"f:status": {}}),
        );
        let posted = entry(
            FIELD_MANAGER,
            "Update",
            "",
            json!({"f:data": {"f:a": {}, "f:b": {}}}),
        );
        let handed = handed_to_apply(&[posted.clone(), status.clone()]).unwrap();
        assert_eq!(handed.len(), 2);
        assert_eq!(handed[0], status, "other managers' entries kept");
        assert_eq!(handed[1].operation.as_deref(), Some("Apply"));
        assert_eq!(handed[1].fields_v1, posted.fields_v1);
        let applied = entry(
            FIELD_MANAGER,
            "Apply",
            "",
            json!({"f:data": {"f:a": {}, "f:c": {}}}),
        );
        let merged = handed_to_apply(&[applied, posted]).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].fields_v1.as_ref().unwrap().0,
            json!({"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}})
        );
        let ours = entry(FIELD_MANAGER, "Update", "status", json!({"f:status": {}}));
        assert_eq!(
            handed_to_apply(&[status, ours]),
            None,
            "nothing to hand over"
        );
        let mut meta = ObjectMeta {
            managed_fields: Some(vec![entry(FIELD_MANAGER, "Update", "", json!({}))]),
            ..ObjectMeta::default()
        };
        forget_managed_fields(&mut meta);
        assert!(meta.managed_fields.is_none());
        assert!(created_by_update(&meta));
    }
}
