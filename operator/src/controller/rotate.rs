//! The rotate annotation ([`ANNOTATION_ROTATE`]): new values for the stack's app secrets (the
//! spec's `secrets`), once per distinct value, the way [`super::ANNOTATION_RESET`] works for
//! data. The value is `STAMP` (every app secret) or `STAMP:SERVICE.NAME` (one), where STAMP is
//! anything that makes the request distinct (`$(date +%s)`).
//!
//! The credentials Secret records the value it carried out ([`ANNOTATION_LAST_ROTATE`]) in the
//! same write as the new values, so a DevStack restored or re-applied with the same annotation
//! does not rotate again. The consumers restart because their pod templates carry a hash of
//! the app secret values they read (`devstack.dev/app-secrets-hash`, set by the renderer).
//! Catalog credentials are never rotated: they protect data created with them.

use std::collections::BTreeMap;

use devstack_core::plan::StackPlan;
use devstack_core::types::DevStack;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

/// Annotation on a DevStack requesting new app secret values (see the module docs).
pub const ANNOTATION_ROTATE: &str = "devstack.dev/rotate";
/// Annotation on the credentials Secret: the rotate value its app secrets were replaced for.
pub const ANNOTATION_LAST_ROTATE: &str = "devstack.dev/last-rotate";

/// The target of a rotate value (`None`: every app secret).
fn target(value: &str) -> Option<&str> {
    value.split_once(':').map(|(_, t)| t)
}

/// The problem with the stack's rotate annotation, if any: a target that is not one of its
/// app secrets (the message names the field and the app secrets there are).
pub(crate) fn check(stack: &DevStack, plan: &StackPlan) -> Option<String> {
    let value = stack.annotations().get(ANNOTATION_ROTATE)?;
    devstack_core::secrets::rotation(plan, target(value))
        .err()
        .map(|e| format!("metadata.annotations[{ANNOTATION_ROTATE}]: {e}; the value is STAMP or STAMP:SERVICE.NAME"))
}

/// The rotate value recorded on a credentials Secret.
pub(crate) fn recorded(secret: &Secret) -> Option<&str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(ANNOTATION_LAST_ROTATE)
        .map(String::as_str)
}

/// The rotate value requested and not carried out on `credentials` (the stack's own Secret).
pub(crate) fn pending(stack: &DevStack, credentials: Option<&Secret>) -> Option<String> {
    let value = stack.annotations().get(ANNOTATION_ROTATE)?;
    (credentials.and_then(recorded) != Some(value.as_str())).then(|| value.clone())
}

/// New values for the app secrets `value` selects, replacing theirs in `values`.
pub(crate) fn apply(plan: &StackPlan, values: &mut BTreeMap<String, String>, value: &str) {
    // Checked before (`check`): an unknown target rotates nothing.
    let _ = devstack_core::secrets::rotate(plan, values, target(value), &mut rand::rng());
}

#[cfg(test)]
mod tests {
    use devstack_core::test_support::plan_spec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn stack(value: Option<&str>) -> DevStack {
        let mut stack = DevStack::new("s", Default::default());
        if let Some(v) = value {
            stack
                .annotations_mut()
                .insert(ANNOTATION_ROTATE.into(), v.into());
        }
        stack
    }

    #[test]
    fn a_rotate_value_is_carried_out_once_and_checked() {
        let plan = plan_spec("services:\n  api: {image: a:1, secrets: [A, B]}\n");
        let secret = |v: &str| Secret {
            metadata: ObjectMeta {
                annotations: Some([(ANNOTATION_LAST_ROTATE.to_string(), v.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        };
        assert_eq!(
            pending(&stack(Some("1:api.A")), None),
            Some("1:api.A".into())
        );
        assert_eq!(
            pending(&stack(Some("1:api.A")), Some(&secret("1:api.A"))),
            None
        );
        assert_eq!(
            pending(&stack(Some("2")), Some(&secret("1:api.A"))),
            Some("2".into())
        );
        assert_eq!(pending(&stack(None), None), None);
        assert_eq!(check(&stack(Some("1:api.A")), &plan), None);
        let error = check(&stack(Some("1:api.C")), &plan).expect("unknown target");
        assert!(
            error.starts_with("metadata.annotations[devstack.dev/rotate]"),
            "{error}"
        );
        let mut values = devstack_core::secrets::fill(&plan, &BTreeMap::new(), &mut rand::rng());
        let before = values.clone();
        apply(&plan, &mut values, "1:api.A");
        assert_ne!(values["DEVSTACK_API_A"], before["DEVSTACK_API_A"]);
        assert_eq!(values["DEVSTACK_API_B"], before["DEVSTACK_API_B"]);
    }
}
