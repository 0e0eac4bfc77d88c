//! Pruning: the stack's objects of a service no longer rendered (removed, or inactive under
//! the selected profiles) are deleted. Only objects this stack controls (controller owner
//! reference with its uid) are candidates; claims and the credentials Secret (no owner
//! reference) are never pruned: they hold data.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use tracing::info;

use super::apply::{Applied, Key};
use super::error::Error;
use super::observe::{Observed, OwnedKind};
use super::ownership::Claim;
use super::write::Writer;
use super::Metrics;

/// Deletes what `observed` holds of the stack and `applied` no longer renders.
pub(crate) async fn prune(
    writer: &Writer<'_>,
    observed: &Observed,
    applied: &Applied,
    uid: &str,
    metrics: &Metrics,
) -> Result<(), Error> {
    prune_kind::<Secret>(writer, observed, &applied.keep, uid, metrics).await?;
    prune_kind::<ConfigMap>(writer, observed, &applied.keep, uid, metrics).await?;
    prune_kind::<NetworkPolicy>(writer, observed, &applied.keep, uid, metrics).await?;
    prune_kind::<Service>(writer, observed, &applied.keep, uid, metrics).await?;
    prune_kind::<Deployment>(writer, observed, &applied.keep, uid, metrics).await?;
    prune_kind::<StatefulSet>(writer, observed, &applied.keep, uid, metrics).await?;
    Ok(())
}

async fn prune_kind<K: OwnedKind>(
    writer: &Writer<'_>,
    observed: &Observed,
    keep: &std::collections::BTreeSet<Key>,
    uid: &str,
    metrics: &Metrics,
) -> Result<(), Error> {
    let kind = K::kind(&()).to_string();
    for (name, object) in observed.all::<K>() {
        let controlled = object
            .meta()
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.uid == uid);
        let ours = writer.claim(object) == Claim::Ours;
        if !controlled || !ours || keep.contains(&(kind.clone(), name.clone())) {
            continue;
        }
        if writer.delete(object).await? {
            info!(%kind, %name, "pruned");
            Metrics::kind(&metrics.pruned, &kind);
        }
    }
    Ok(())
}
