//! Deletion and reset.
//!
//! Deleting a DevStack runs the finalizer first: claims of services with
//! `storage.retainOnDelete: true` (the default) are kept, and so is every Secret of the stack
//! (they hold the credentials that open that data): their owner references are dropped so the
//! garbage collector leaves them. A re-created DevStack of the same name adopts both (the
//! StatefulSet finds its claims by name; the credentials Secret gets its owner reference
//! back). Claims of services with `retainOnDelete: false` are deleted; without any retained
//! data the Secrets go with the stack.
//!
//! A reset ([`super::ANNOTATION_RESET`]) wipes the data (StatefulSets and claims) and the
//! credentials once per distinct annotation value; the next reconciles create them anew.

use std::collections::BTreeMap;
use std::time::Duration;

use devstack_core::plan::{PlanOptions, StackPlan};
use devstack_core::types::DevStack;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::info;

use super::error::{is_not_found, Error};
use super::reconcile::publish;
use super::status::{self, Phase};
use super::{Context, ANNOTATION_RESET};
use crate::render::{LABEL_SERVICE, LABEL_STACK};

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

fn stack_selector(stack: &str) -> String {
    format!("{LABEL_STACK}={stack}")
}

async fn delete_claims(ctx: &Context, namespace: &str, selector: &str) -> Result<usize, Error> {
    let api = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), namespace);
    let claims = api
        .list_metadata(&ListParams::default().labels(selector))
        .await
        .map_err(Error::kube("list", "PersistentVolumeClaim", selector))?;
    let mut deleted = 0;
    for claim in claims.items {
        let name = claim.metadata.name.unwrap_or_default();
        if claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => deleted += 1,
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::kube("delete", "PersistentVolumeClaim", &name)(e)),
        }
    }
    Ok(deleted)
}

/// The finalizer's cleanup step.
pub(crate) async fn cleanup(stack: &DevStack, ctx: &Context) -> Result<Action, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let name = stack.name_any();
    let retention = retention(stack);
    for (service, retain) in &retention {
        if !retain {
            let selector = format!("{},{LABEL_SERVICE}={service}", stack_selector(&name));
            let deleted = delete_claims(ctx, &namespace, &selector).await?;
            info!(%service, claims = deleted, "deleted data (retainOnDelete: false)");
        }
    }
    let keep_secrets = retention.values().any(|retain| *retain);
    if keep_secrets {
        let uid = stack.uid().unwrap_or_default();
        let api = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
        let secrets = api
            .list_metadata(&ListParams::default().labels(&stack_selector(&name)))
            .await
            .map_err(Error::kube("list", "Secret", &name))?;
        for secret in secrets.items {
            let owned = secret
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid);
            if !owned {
                continue;
            }
            let secret_name = secret.metadata.name.unwrap_or_default();
            let patch = json!({"metadata": {"ownerReferences": null}});
            match api
                .patch(&secret_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => info!(secret = %secret_name, "kept (protects retained data)"),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::kube("release", "Secret", &secret_name)(e)),
            }
        }
    }
    let note = if keep_secrets {
        "deleted; retained data and its credentials kept for a re-created stack of this name"
    } else {
        "deleted with its data"
    };
    publish(
        ctx,
        &stack.object_ref(&()),
        EventType::Normal,
        "Deleted",
        "Deleting",
        note.to_string(),
    )
    .await;
    Ok(Action::await_change())
}

/// Carries out a reset requested by a new [`ANNOTATION_RESET`] value: deletes the stack's
/// StatefulSets, claims and credentials, records the value in `status.lastReset`, and comes
/// back shortly to create everything anew.
pub(crate) async fn reset_if_requested(
    stack: &DevStack,
    plan: &StackPlan,
    ctx: &Context,
) -> Result<Option<Action>, Error> {
    let Some(token) = stack.annotations().get(ANNOTATION_RESET) else {
        return Ok(None);
    };
    let done = stack.status.as_ref().and_then(|s| s.last_reset.as_ref());
    if done == Some(token) {
        return Ok(None);
    }
    let namespace = stack.namespace().unwrap_or_default();
    let selector = stack_selector(&plan.name);
    let statefulsets = Api::<StatefulSet>::namespaced(ctx.client.clone(), &namespace);
    statefulsets
        .delete_collection(
            &DeleteParams::background(),
            &ListParams::default().labels(&selector),
        )
        .await
        .map_err(Error::kube("delete", "StatefulSet", &selector))?;
    delete_claims(ctx, &namespace, &selector).await?;
    let secret = plan.credentials_secret_name();
    match Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
        .delete(&secret, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(Error::kube("delete", "Secret", &secret)(e)),
    }
    let mut status = status::build(
        stack,
        &Phase::Progressing("resetting: data and credentials wiped".into()),
        None,
        None,
    );
    status.last_reset = Some(token.clone());
    status::write(&ctx.client, stack, &status).await?;
    info!(reset = %token, "reset: data and credentials wiped");
    let note =
        "reset on request: data volumes and credentials wiped; creating them anew".to_string();
    publish(
        ctx,
        &stack.object_ref(&()),
        EventType::Normal,
        "Reset",
        "Resetting",
        note,
    )
    .await;
    Ok(Some(Action::requeue(Duration::from_secs(2))))
}

/// After a reset, waits until the old claims are gone before creating new ones.
pub(crate) async fn wait_for_reset(
    stack: &DevStack,
    ctx: &Context,
) -> Result<Option<Action>, Error> {
    if stack
        .status
        .as_ref()
        .and_then(|s| s.last_reset.as_ref())
        .is_none()
    {
        return Ok(None);
    }
    let namespace = stack.namespace().unwrap_or_default();
    let selector = stack_selector(&stack.name_any());
    let claims = Api::<PersistentVolumeClaim>::namespaced(ctx.client.clone(), &namespace)
        .list_metadata(&ListParams::default().labels(&selector))
        .await
        .map_err(Error::kube("list", "PersistentVolumeClaim", &selector))?;
    let terminating = claims
        .items
        .iter()
        .any(|c| c.metadata.deletion_timestamp.is_some());
    Ok(terminating.then(|| Action::requeue(Duration::from_secs(2))))
}
