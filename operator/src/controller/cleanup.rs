//! Deletion: the finalizer's cleanup step.
//!
//! Claims of services with `storage.retainOnDelete: true` (the default) are kept, and so is
//! the credentials Secret that opens them: it has no owner reference
//! ([`super::credentials`]), so no deletion mode lets the garbage collector take it. Claims of
//! services with `retainOnDelete: false` are deleted; without any retained data the
//! credentials Secret is deleted too. Only the stack's own objects are deleted; everything
//! else the stack owns goes with the DevStack through its owner reference.

use std::collections::BTreeMap;

use devstack_core::plan::PlanOptions;
use devstack_core::types::DevStack;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::info;

use super::error::Error;
use super::observe::Observed;
use super::ownership::Claim;
use super::write::Writer;
use super::{report, Context};
use crate::render::LABEL_SERVICE;

/// Whether each service that keeps data retains it on delete. From the plan when the spec is
/// valid; otherwise from the spec, counting every catalog service as one with data and
/// defaulting to retain (when in doubt, keep data).
fn retention(stack: &DevStack) -> BTreeMap<String, bool> {
    match devstack_core::plan(stack, &PlanOptions::default()) {
        Ok(plan) => plan
            .services
            .values()
            .filter(|s| s.is_stateful() && !s.volumes().is_empty())
            .map(|s| (s.name.clone(), s.retains_data()))
            .collect(),
        Err(_) => stack
            .spec
            .services
            .iter()
            .filter(|(_, s)| s.type_.is_some())
            .map(|(name, s)| {
                let retain = s
                    .storage
                    .as_ref()
                    .and_then(|st| st.retain_on_delete)
                    .unwrap_or(true);
                (name.clone(), retain)
            })
            .collect(),
    }
}

/// The finalizer's cleanup step.
pub(crate) async fn cleanup(stack: &DevStack, ctx: &Context) -> Result<Action, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let name = stack.name_any();
    let owner = stack
        .controller_owner_ref(&())
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let writer = Writer::new(
        ctx.client.clone(),
        &namespace,
        owner,
        &ctx.metrics,
        &ctx.verified,
    );
    let retention = retention(stack);
    let mut observed = Observed::default();
    let claims = observed
        .list_claims(&ctx.client, &namespace, &name)
        .await?
        .clone();
    for claim in claims.values() {
        let service = claim
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE));
        let dropped = service.is_some_and(|s| retention.get(s) == Some(&false));
        if dropped && writer.claim::<PersistentVolumeClaim>(claim) == Claim::Ours {
            writer.delete(claim).await?;
            info!(service = ?service, claim = ?claim.metadata.name, "deleted data (retainOnDelete: false)");
        }
    }
    let kept = retention.values().any(|retain| *retain);
    if !kept {
        let secret_name = devstack_core::conventions::credentials_secret(&name);
        let secret = observed
            .read::<Secret>(&ctx.client, &namespace, &secret_name)
            .await?
            .cloned();
        if let Some(secret) = secret.filter(|s| writer.claim(s) == Claim::Ours) {
            writer.delete(&secret).await?;
        }
    }
    report::deleted(stack, ctx, kept).await;
    Ok(Action::await_change())
}
