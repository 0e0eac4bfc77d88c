//! What an `up` provisions besides containers — images (pulled when missing), the project's
//! networks and volumes — and the rollback of everything a failed `up` created.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{CreateImageOptionsBuilder, RemoveContainerOptionsBuilder};
use futures_util::StreamExt;

use super::hash::{network_hash, volume_hash};
use super::labels;
use super::ops::{project_networks, project_volumes};
use super::progress::Progress;
use super::up::{lock, Desired};
use super::{is_not_found, DriverError, Engine, StackContext};
use crate::api::DockerApi;

/// What this `up` created, removed again on failure.
#[derive(Default)]
pub(crate) struct Created {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

/// The image id of `image`, pulling it when the engine does not have it.
pub(crate) async fn ensure_image<D: DockerApi>(
    engine: &Engine<D>,
    service: &str,
    image: &str,
    progress: &Progress,
) -> Result<String, DriverError> {
    let unavailable = |reason: String| DriverError::ImageUnavailable {
        service: service.to_string(),
        image: image.to_string(),
        reason,
    };
    match engine.docker.inspect_image(image).await {
        Ok(found) => return Ok(found.id.unwrap_or_default()),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(DriverError::docker(format!("inspecting image {image}"), e)),
    }
    progress.step(service, &format!("pulling {image}"));
    let options = CreateImageOptionsBuilder::new().from_image(image).build();
    let mut pull = engine.docker.create_image(Some(options));
    while let Some(item) = pull.next().await {
        let info = item.map_err(|e| unavailable(e.to_string()))?;
        if let Some(detail) = info.error_detail {
            return Err(unavailable(detail.message.unwrap_or_default()));
        }
    }
    let found = engine
        .docker
        .inspect_image(image)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(found.id.unwrap_or_default())
}

pub(crate) async fn ensure_networks<D: DockerApi>(
    engine: &Engine<D>,
    ctx: &StackContext,
    desired: &BTreeMap<String, Desired>,
    created: &Mutex<Created>,
    progress: &Progress,
) -> Result<(), DriverError> {
    let mut keys: Vec<String> = desired
        .values()
        .flat_map(|d| {
            if d.service.networks.is_empty() {
                vec![labels::DEFAULT_NETWORK.to_string()]
            } else {
                d.service.networks.clone()
            }
        })
        .collect();
    keys.sort();
    keys.dedup();
    // One list call for an unchanged stack; a name not among them is inspected before it is
    // created, so someone else's network of that name is refused.
    let own = project_networks(&engine.docker, ctx.name()).await?;
    for key in keys {
        let name = labels::network_name(ctx.name(), &key);
        if own.contains(&name) {
            continue;
        }
        match engine.docker.inspect_network(&name, None).await {
            Ok(found) if labels::is_own(found.labels.iter().flatten(), ctx.name()) => continue,
            Ok(_) => return Err(foreign("network", &name, ctx.name())),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(DriverError::docker(format!("inspecting network {name}"), e)),
        }
        let config = ctx.project.networks.get(&key).cloned().unwrap_or_default();
        let hash = network_hash(&name, &config);
        engine
            .docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".to_string()),
                labels: Some(labels::network_labels(
                    ctx.name(),
                    &key,
                    &config.labels,
                    &hash,
                )),
                ..NetworkCreateRequest::default()
            })
            .await
            .map_err(|e| DriverError::docker(format!("creating network {name}"), e))?;
        progress.note(&format!("network {name} created"));
        lock(created).networks.push(name);
    }
    Ok(())
}

pub(crate) async fn ensure_volumes<D: DockerApi>(
    engine: &Engine<D>,
    ctx: &StackContext,
    desired: &BTreeMap<String, Desired>,
    created: &Mutex<Created>,
    progress: &Progress,
) -> Result<(), DriverError> {
    let mut keys: Vec<&String> = desired
        .values()
        // Bind mounts (the services' files) are host paths, not volumes.
        .flat_map(|d| d.service.volumes.iter().filter(|v| v.kind == "volume"))
        .map(|v| &v.source)
        .collect();
    keys.sort();
    keys.dedup();
    let own = project_volumes(&engine.docker, ctx.name()).await?;
    for key in keys {
        let name = labels::volume_name(ctx.name(), key);
        if own.contains(&name) {
            continue;
        }
        match engine.docker.inspect_volume(&name).await {
            Ok(found) if labels::is_own(&found.labels, ctx.name()) => continue,
            Ok(_) => return Err(foreign("volume", &name, ctx.name())),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(DriverError::docker(format!("inspecting volume {name}"), e)),
        }
        let config = ctx.project.volumes.get(key).cloned().unwrap_or_default();
        let hash = volume_hash(&name, &config);
        engine
            .docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                driver: Some("local".to_string()),
                labels: Some(labels::volume_labels(
                    ctx.name(),
                    key,
                    &config.labels,
                    &hash,
                )),
                ..VolumeCreateRequest::default()
            })
            .await
            .map_err(|e| DriverError::docker(format!("creating volume {name}"), e))?;
        progress.note(&format!("volume {name} created"));
        lock(created).volumes.push(name);
    }
    Ok(())
}

fn foreign(kind: &'static str, name: &str, stack: &str) -> DriverError {
    DriverError::Foreign {
        kind,
        name: name.to_string(),
        stack: stack.to_string(),
    }
}

/// Removes what a failed `up` created: its containers, then its (now unused) networks and
/// volumes. Best effort: the original error is what the user needs to see.
pub(crate) async fn rollback<D: DockerApi>(engine: &Engine<D>, created: Created) {
    let docker = &engine.docker;
    for id in created.containers.iter().rev() {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = docker.remove_container(id, Some(options)).await;
    }
    for network in &created.networks {
        let _ = docker.remove_network(network).await;
    }
    for volume in &created.volumes {
        let _ = docker
            .remove_volume(
                volume,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await;
    }
}
