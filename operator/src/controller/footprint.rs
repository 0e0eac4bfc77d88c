//! What the watch caches keep, measurable from outside the operator (the `cache_memory`
//! example): objects of an owned kind kept exactly as that kind's watch keeps them
//! (the owned-object watches and the compact stores of the controller module).

use std::any::Any;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::PartialObjectMeta;
use kube::runtime::watcher::Event;
use serde::de::DeserializeOwned;

use super::cache::{self, Cached};
use super::triggers;

/// A store filled by [`keep`], held while the caller measures.
pub struct Filled {
    objects: usize,
    _store: Box<dyn Any + Send>,
}

impl Filled {
    /// How many objects the store holds.
    pub fn objects(&self) -> usize {
        self.objects
    }
}

/// Why [`keep`] could not keep the objects.
#[derive(Debug, thiserror::Error)]
pub enum FootprintError {
    /// The kind is not one the operator caches.
    #[error("kind {0} is not cached; one of Secret, ConfigMap, NetworkPolicy, Service, Deployment, StatefulSet")]
    Kind(String),
    /// An object is not of the kind.
    #[error("an object is not a {kind}: {source}")]
    Object {
        /// The kind.
        kind: String,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// Keeps `objects` (API objects of `kind`, as JSON) in a store of that kind as the operator's
/// watch keeps them: one complete list.
pub fn keep(
    kind: &str,
    objects: impl IntoIterator<Item = serde_json::Value>,
) -> Result<Filled, FootprintError> {
    match kind {
        "Secret" => fill::<Secret>(kind, objects, triggers::keep_whole),
        "ConfigMap" => fill::<PartialObjectMeta<ConfigMap>>(kind, objects, cache::keep_metadata),
        "NetworkPolicy" => {
            fill::<PartialObjectMeta<NetworkPolicy>>(kind, objects, cache::keep_metadata)
        }
        "Service" => fill::<PartialObjectMeta<Service>>(kind, objects, cache::keep_metadata),
        "Deployment" => fill::<Deployment>(kind, objects, triggers::keep_workload),
        "StatefulSet" => fill::<StatefulSet>(kind, objects, triggers::keep_workload),
        other => Err(FootprintError::Kind(other.to_string())),
    }
}

fn fill<C: Cached + DeserializeOwned>(
    kind: &str,
    objects: impl IntoIterator<Item = serde_json::Value>,
    keep: fn(&mut C),
) -> Result<Filled, FootprintError> {
    let (store, mut writer) = cache::store::<C>();
    writer.apply_watcher_event(&Event::Init);
    for value in objects {
        let mut object: C =
            serde_json::from_value(value).map_err(|source| FootprintError::Object {
                kind: kind.to_string(),
                source,
            })?;
        keep(&mut object);
        writer.apply_watcher_event(&Event::InitApply(object));
    }
    writer.apply_watcher_event(&Event::InitDone);
    Ok(Filled {
        objects: store.len(),
        _store: Box::new((store, writer)),
    })
}
