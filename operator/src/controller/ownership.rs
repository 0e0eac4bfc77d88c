//! Which objects are this stack's own: the one rule every write and delete of the controller
//! checks first.
//!
//! An object is the stack's own when the operator labelled it for this stack
//! (`devstack.dev/stack=<stack>` and `app.kubernetes.io/managed-by=devstack`) and no other
//! object controls it (no controller owner reference with another uid). A same-named object
//! made by Helm or kubectl, or one of another stack, is foreign: the reconcile reports it as a
//! `Conflict` and writes nothing; reset and deletion leave it alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

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
}
