//! Replacing a changed container without losing the service. A host port or a data volume
//! cannot be held by two containers at once, so the old container is stopped gracefully (its
//! stop signal, then [`crate::ops::STOP_TIMEOUT`] seconds, as `docker stop` does; never a
//! SIGKILL first) and renamed aside, the new one takes its name, and only once the new one is
//! ready does the old one go. When the new one fails, it is removed and the old one gets its
//! name back and runs again: the service keeps its previous container.

use std::sync::Mutex;

use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RenameContainerOptions, StopContainerOptionsBuilder,
};

use crate::api::DockerApi;
use crate::create::ContainerSpec;
use crate::ops::{remove_quietly, ContainerInfo, STOP_TIMEOUT};
use crate::provision::Created;
use crate::up::lock;
use crate::DriverError;

/// A container set aside for its replacement.
#[derive(Clone, Debug)]
pub(crate) struct Replaced {
    /// The old container's id.
    pub old_id: String,
    /// Its name, which the new container takes.
    pub name: String,
    /// Whether it ran before.
    pub was_running: bool,
    /// The new container, once created.
    pub new_id: Option<String>,
}

/// Stops `old` gracefully and renames it aside (`<short id>_<name>`, as Compose does).
pub(crate) async fn set_aside<D: DockerApi>(
    docker: &D,
    old: &ContainerInfo,
) -> Result<Replaced, DriverError> {
    let stop = StopContainerOptionsBuilder::new().t(STOP_TIMEOUT).build();
    docker
        .stop_container(&old.id, Some(stop))
        .await
        .map_err(|e| DriverError::docker(format!("stopping {}", old.name), e))?;
    let short: String = old.id.chars().take(12).collect();
    let rename = RenameContainerOptions {
        name: format!("{short}_{}", old.name),
    };
    let replaced = Replaced {
        old_id: old.id.clone(),
        name: old.name.clone(),
        was_running: old.running,
        new_id: None,
    };
    if let Err(e) = docker.rename_container(&old.id, rename).await {
        restore(docker, &replaced).await;
        return Err(DriverError::docker(
            format!("renaming {} aside", old.name),
            e,
        ));
    }
    Ok(replaced)
}

/// The new container is ready: the old one goes.
pub(crate) async fn retire<D: DockerApi>(docker: &D, replaced: &Replaced) {
    remove_quietly(docker, &replaced.old_id).await;
}

/// The new container failed: it goes, and the old one gets its name back and runs again.
/// Best effort: the error of the new container is what the user needs to see.
pub(crate) async fn restore<D: DockerApi>(docker: &D, replaced: &Replaced) {
    if let Some(new) = &replaced.new_id {
        remove_quietly(docker, new).await;
    }
    let rename = RenameContainerOptions {
        name: replaced.name.clone(),
    };
    let _ = docker.rename_container(&replaced.old_id, rename).await;
    if replaced.was_running {
        let _ = docker.start_container(&replaced.old_id, None).await;
    }
}

/// Creates the container of `spec`; its id is recorded as the successor of the container it
/// replaces (restored if it fails) or, when it replaces none, as created by this `up`.
pub(crate) async fn create<D: DockerApi>(
    docker: &D,
    spec: &ContainerSpec,
    replaced: &mut [Replaced],
    created: &Mutex<Created>,
) -> Result<String, DriverError> {
    let options = CreateContainerOptionsBuilder::new()
        .name(&spec.name)
        .build();
    let response = docker
        .create_container(Some(options), spec.body.clone())
        .await
        .map_err(|e| DriverError::docker(format!("creating {}", spec.name), e))?;
    match replaced.last_mut().filter(|r| r.name == spec.name) {
        Some(r) => r.new_id = Some(response.id.clone()),
        None => lock(created).containers.push(response.id.clone()),
    }
    Ok(response.id)
}

/// Joins the container `id` of `spec` to its networks beyond the first.
pub(crate) async fn join_networks<D: DockerApi>(
    docker: &D,
    spec: &ContainerSpec,
    id: &str,
) -> Result<(), DriverError> {
    for (network, endpoint) in &spec.extra_networks {
        let request = NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(endpoint.clone()),
        };
        docker
            .connect_network(network, request)
            .await
            .map_err(|e| DriverError::docker(format!("joining {} to {network}", spec.name), e))?;
    }
    Ok(())
}
