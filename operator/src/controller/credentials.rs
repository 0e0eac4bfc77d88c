//! The `<stack>-credentials` Secret: generated in the cluster with a CSPRNG, created once, and
//! never regenerated while it exists (an operator restart, a requeue, a spec edit all read it
//! back). A service added later gets its new keys merged in; existing keys are never
//! rewritten. The Secret outlives a deleted stack whose data is retained, and a re-created
//! stack of the same name adopts it (its owner reference is set again).

use std::collections::BTreeMap;

use devstack_core::plan::StackPlan;
use devstack_core::secrets;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tracing::info;

use super::error::{is_conflict, Error};
use super::metrics::Metrics;
use super::FIELD_MANAGER;

/// The credentials as they are in the cluster (or will be once [`ensure`] ran).
pub(crate) struct Credentials {
    /// Values by secret id.
    pub values: BTreeMap<String, String>,
    live: Option<Secret>,
}

/// Reads the credentials Secret (`listed`: as the reconcile's list of the stack's Secrets has
/// it; read by name when absent there, e.g. its stack label was edited away) and fills in
/// values for ids it lacks (generated, not yet written). A stale list is harmless: creating a
/// Secret that exists fails, and the retry reads it again.
pub(crate) async fn load(
    client: &Client,
    namespace: &str,
    plan: &StackPlan,
    listed: Option<Secret>,
) -> Result<Credentials, Error> {
    let name = plan.credentials_secret_name();
    let live = match listed {
        Some(secret) => Some(secret),
        None => Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(&name)
            .await
            .map_err(Error::kube("read", "Secret", &name))?,
    };
    let existing = live.as_ref().map(decode).unwrap_or_default();
    let values = secrets::fill(plan, &existing, &mut rand::rng());
    Ok(Credentials { values, live })
}

fn decode(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.0.clone()).ok()?)))
        .collect()
}

fn encode(values: &BTreeMap<String, String>) -> BTreeMap<String, ByteString> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
        .collect()
}

/// Makes the rendered credentials Secret exist: created with every value when missing;
/// otherwise only missing keys are added and the owner reference set (adoption), guarded by
/// the resourceVersion read in [`load`] so a concurrent writer is never overwritten.
pub(crate) async fn ensure(
    client: &Client,
    namespace: &str,
    credentials: &Credentials,
    rendered: Secret,
    owner: &OwnerReference,
    metrics: &Metrics,
) -> Result<bool, Error> {
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    let name = rendered.metadata.name.clone().unwrap_or_default();
    // The rendered Secret holds the keys of the active services; keys of services deactivated
    // later stay (they still open those services' data).
    let wanted = rendered.string_data.clone().unwrap_or_default();
    let Some(live) = &credentials.live else {
        let mut secret = rendered;
        secret.metadata.namespace = Some(namespace.to_string());
        secret.metadata.owner_references = Some(vec![owner.clone()]);
        secret.data = Some(encode(&wanted));
        secret.string_data = None;
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PostParams::default()
        };
        return match api.create(&params, &secret).await {
            Ok(_) => {
                info!(secret = %name, keys = wanted.len(), "generated credentials");
                metrics.credentials_generated.inc();
                Ok(true)
            }
            Err(e) if is_conflict(&e) => Err(Error::CredentialsRace { name }),
            Err(e) => Err(Error::kube("create", "Secret", &name)(e)),
        };
    };
    let existing = decode(live);
    let missing: BTreeMap<String, String> = wanted
        .iter()
        .filter(|(k, _)| existing.get(*k).is_none_or(|v| v.is_empty()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let owned = live
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner.uid && o.controller == Some(true));
    if missing.is_empty() && owned {
        return Ok(false);
    }
    let mut patch = json!({"metadata": {"resourceVersion": live.metadata.resource_version}});
    if !owned {
        // Adoption: a retained Secret of a deleted stack (no owner) or this stack's own.
        patch["metadata"]["ownerReferences"] = json!([owner]);
    }
    if !missing.is_empty() {
        patch["data"] = json!(encode(&missing));
    }
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            info!(secret = %name, added_keys = missing.len(), adopted = !owned, "updated credentials");
            Ok(true)
        }
        Err(e) if is_conflict(&e) => Err(Error::CredentialsRace { name }),
        Err(e) => Err(Error::kube("update", "Secret", &name)(e)),
    }
}
