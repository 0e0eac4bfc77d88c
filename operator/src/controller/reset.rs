//! The reset annotation ([`super::ANNOTATION_RESET`]): wipes the stack's data (its own
//! StatefulSets and claims) and replaces its credentials, once per distinct value.
//!
//! A value counts as carried out when the credentials Secret records it
//! ([`ANNOTATION_LAST_RESET`], written with the new values by the credentials step) or the status
//! does (`status.lastReset`, for display and for Secrets written before the record existed).
//! The Secret is the record that matters: it outlives the DevStack with retained data, and a
//! DevStack restored or re-applied without its status finds the reset already done.
//!
//! Order: delete StatefulSets and claims, wait until the claims are gone, then write the new
//! credentials with the record (the credentials step). A crash in between repeats only the
//! deletes; the record is never written before the data is gone.

use devstack_core::types::DevStack;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::ResourceExt;

use super::error::Error;
use super::observe::Observed;
use super::ownership::Claim;
use super::write::Writer;
use super::ANNOTATION_RESET;

/// Annotation on the credentials Secret: the reset value its credentials were generated for.
pub const ANNOTATION_LAST_RESET: &str = "devstack.dev/last-reset";

/// The reset value recorded on a credentials Secret.
pub(crate) fn recorded_reset(secret: &Secret) -> Option<&str> {
    secret
        .metadata
        .annotations
        .as_ref()?
        .get(ANNOTATION_LAST_RESET)
        .map(String::as_str)
}

/// The reset value requested and not carried out yet. `credentials`: the stack's own
/// credentials Secret, if any.
pub(crate) fn pending(stack: &DevStack, credentials: Option<&Secret>) -> Option<String> {
    let token = stack.annotations().get(ANNOTATION_RESET)?;
    let in_status = stack.status.as_ref().and_then(|s| s.last_reset.as_ref()) == Some(token);
    let in_secret = credentials.and_then(recorded_reset) == Some(token.as_str());
    (!in_status && !in_secret).then(|| token.clone())
}

/// Deletes the stack's own StatefulSets and claims. Returns `true` once none is left (the
/// credentials may then be replaced), `false` while some are still going.
pub(crate) async fn wipe(
    writer: &Writer<'_>,
    observed: &mut Observed,
    stack: &str,
) -> Result<bool, Error> {
    let mut left = false;
    for statefulset in own::<StatefulSet>(writer, observed) {
        writer.delete(&statefulset).await?;
        left = true;
    }
    observed
        .list_claims(writer.client(), writer.namespace(), stack)
        .await?;
    for claim in own::<PersistentVolumeClaim>(writer, observed) {
        writer.delete(&claim).await?;
        left = true;
    }
    Ok(!left)
}

/// Whether the stack's own claims (not being deleted) exist: data that the credentials open.
pub(crate) async fn data_exists(
    writer: &Writer<'_>,
    observed: &mut Observed,
    stack: &str,
) -> Result<bool, Error> {
    observed
        .list_claims(writer.client(), writer.namespace(), stack)
        .await?;
    Ok(own::<PersistentVolumeClaim>(writer, observed)
        .iter()
        .any(|c| c.metadata.deletion_timestamp.is_none()))
}

fn own<K: super::observe::OwnedKind>(writer: &Writer<'_>, observed: &Observed) -> Vec<K> {
    observed
        .all::<K>()
        .values()
        .filter(|o| writer.claim(*o) == Claim::Ours)
        .cloned()
        .collect()
}
