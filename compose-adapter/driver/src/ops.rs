//! The other verbs: find a project's containers (whoever started them: `devstack up` or
//! `docker compose up`, both label them the Compose way), take the stack down, remove its
//! volumes, report its status, stream a service's logs.

use std::io::Write;

use bollard::models::{
    ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum, HealthStatusEnum,
};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptions,
    StopContainerOptionsBuilder,
};
use futures_util::future::join_all;
use futures_util::StreamExt;
use serde::Serialize;

use super::DriverError;
use super::{labels, wait};
use crate::api::DockerApi;

/// Seconds a container gets to stop before it is killed (Compose's default).
pub(crate) const STOP_TIMEOUT: i32 = 10;

/// One container of a project.
#[derive(Clone, Debug)]
pub struct ContainerInfo {
    /// Container id.
    pub id: String,
    /// Container name.
    pub name: String,
    /// Service label.
    pub service: String,
    /// Replica number.
    pub number: u32,
    /// Compose config hash label.
    pub hash: String,
    /// Image id label.
    pub image_id: String,
    /// Image reference.
    pub image: String,
    /// Whether it runs.
    pub running: bool,
    /// The engine's state word.
    pub state: String,
    /// The engine's status text (`Up 5 minutes (healthy)`).
    pub status: String,
    /// Published ports, `127.0.0.1:5433->5432`.
    pub ports: Vec<String>,
}

/// The service containers of `project` (one-off containers left out), by name.
pub async fn project_containers<D: DockerApi>(
    docker: &D,
    project: &str,
) -> Result<Vec<ContainerInfo>, DriverError> {
    let mut filters = labels::project_filter(project);
    filters
        .get_mut("label")
        .into_iter()
        .for_each(|f| f.push(format!("{}=False", labels::ONEOFF)));
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DriverError::docker(format!("listing the containers of {project}"), e))?;
    let mut containers: Vec<ContainerInfo> = list.into_iter().map(container_info).collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(containers)
}

fn container_info(c: ContainerSummary) -> ContainerInfo {
    let labels = c.labels.unwrap_or_default();
    let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
    let mut ports: Vec<String> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            p.public_port
                .map(|public| format!("{}:{public}->{}", p.ip.unwrap_or_default(), p.private_port))
        })
        .collect();
    ports.sort();
    ports.dedup();
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        service: label(labels::SERVICE),
        number: label(labels::CONTAINER_NUMBER).parse().unwrap_or(0),
        hash: label(labels::CONFIG_HASH),
        image_id: label(labels::IMAGE),
        image: c.image.unwrap_or_default(),
        running: c.state == Some(ContainerSummaryStateEnum::RUNNING),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        ports,
    }
}

/// Force-removes a container, ignoring errors (it may already be gone).
pub async fn remove_quietly<D: DockerApi>(docker: &D, id: &str) {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    let _ = docker.remove_container(id, Some(options)).await;
}

/// What `down` removed.
#[derive(Clone, Debug, Default)]
pub struct DownSummary {
    /// Container names.
    pub containers: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
}

/// Stops and removes the containers and networks of `project`; volumes stay.
pub async fn down<D: DockerApi>(docker: &D, project: &str) -> Result<DownSummary, DriverError> {
    let containers = project_containers(docker, project).await?;
    let stops = containers.iter().map(|c| async move {
        let stop = StopContainerOptionsBuilder::new().t(STOP_TIMEOUT).build();
        let _ = docker.stop_container(&c.id, Some(stop)).await;
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        docker
            .remove_container(&c.id, Some(options))
            .await
            .or_else(|e| {
                if super::is_not_found(&e) {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| DriverError::docker(format!("removing {}", c.name), e))
    });
    for result in join_all(stops).await {
        result?;
    }
    let mut removed = Vec::new();
    for name in project_networks(docker, project).await? {
        docker
            .remove_network(&name)
            .await
            .map_err(|e| DriverError::docker(format!("removing network {name}"), e))?;
        removed.push(name);
    }
    Ok(DownSummary {
        containers: containers.into_iter().map(|c| c.name).collect(),
        networks: removed,
    })
}

/// Removes the named volumes of `project` (its containers must be gone); their names.
pub async fn remove_volumes<D: DockerApi>(
    docker: &D,
    project: &str,
) -> Result<Vec<String>, DriverError> {
    let mut removed = Vec::new();
    for name in project_volumes(docker, project).await? {
        docker
            .remove_volume(&name, None::<RemoveVolumeOptions>)
            .await
            .map_err(|e| DriverError::docker(format!("removing volume {name}"), e))?;
        removed.push(name);
    }
    Ok(removed)
}

/// The names of `project`'s own networks (both of its labels), in one call.
pub(crate) async fn project_networks<D: DockerApi>(
    docker: &D,
    project: &str,
) -> Result<Vec<String>, DriverError> {
    let options = ListNetworksOptionsBuilder::new()
        .filters(&labels::project_filter(project))
        .build();
    let networks = docker
        .list_networks(Some(options))
        .await
        .map_err(|e| DriverError::docker(format!("listing the networks of {project}"), e))?;
    Ok(networks.into_iter().filter_map(|n| n.name).collect())
}

/// The names of `project`'s own volumes (both of its labels), in one call.
pub(crate) async fn project_volumes<D: DockerApi>(
    docker: &D,
    project: &str,
) -> Result<Vec<String>, DriverError> {
    let options = ListVolumesOptionsBuilder::new()
        .filters(&labels::project_filter(project))
        .build();
    let volumes = docker
        .list_volumes(Some(options))
        .await
        .map_err(|e| DriverError::docker(format!("listing the volumes of {project}"), e))?;
    Ok(volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect())
}

/// One row of `devstack status`.
#[derive(Clone, Debug, Serialize)]
pub struct StatusRow {
    /// Service.
    pub service: String,
    /// Container name.
    pub container: String,
    /// `running`, `exited`, … or `missing` for an active service without a container.
    pub state: String,
    /// `healthy`, `unhealthy`, `starting` or `-` (no health check).
    pub health: String,
    /// Published ports.
    pub ports: Vec<String>,
    /// Image.
    pub image: String,
    /// The engine's status text, with the uptime (`Up 5 minutes (healthy)`).
    pub status: String,
}

/// The status of every container of `project`, plus a `missing` row for each of `expected`
/// without a container.
pub async fn status<D: DockerApi>(
    docker: &D,
    project: &str,
    expected: &[String],
) -> Result<Vec<StatusRow>, DriverError> {
    let containers = project_containers(docker, project).await?;
    let mut rows = Vec::new();
    for c in &containers {
        let health = match docker.inspect_container(&c.id, None).await {
            Ok(i) => health(docker, &c.id, i).await,
            Err(_) => "-".to_string(),
        };
        rows.push(StatusRow {
            service: c.service.clone(),
            container: c.name.clone(),
            state: c.state.clone(),
            health,
            ports: c.ports.clone(),
            image: c.image.clone(),
            status: c.status.clone(),
        });
    }
    for service in expected {
        if !containers.iter().any(|c| &c.service == service) {
            rows.push(StatusRow {
                service: service.clone(),
                container: "-".to_string(),
                state: "missing".to_string(),
                health: "-".to_string(),
                ports: Vec::new(),
                image: "-".to_string(),
                status: "not created (run devstack up)".to_string(),
            });
        }
    }
    rows.sort_by(|a, b| (&a.service, &a.container).cmp(&(&b.service, &b.container)));
    Ok(rows)
}

/// The health column: the engine's, except that while the engine still says `starting` (it
/// runs the check only every `interval`) devstack runs the same check once itself, as `up`
/// does, and says what it found: `healthy (verified by devstack; engine: starting)`.
async fn health<D: DockerApi>(docker: &D, id: &str, inspect: ContainerInspectResponse) -> String {
    let Some(status) = inspect
        .state
        .and_then(|s| s.health)
        .and_then(|h| h.status)
        .filter(|s| *s != HealthStatusEnum::NONE && *s != HealthStatusEnum::EMPTY)
    else {
        return "-".to_string();
    };
    let test = inspect
        .config
        .and_then(|c| c.healthcheck)
        .and_then(|h| h.test);
    match (status, test) {
        (HealthStatusEnum::STARTING, Some(test)) if wait::verify_once(docker, id, &test).await => {
            "healthy (verified by devstack; engine: starting)".to_string()
        }
        (status, _) => status.to_string(),
    }
}

/// Writes the logs of `service`'s containers to `out` (following them when `follow`);
/// `false` when the service has no container.
pub async fn logs<D: DockerApi>(
    docker: &D,
    project: &str,
    service: &str,
    follow: bool,
    out: &mut (dyn Write + Send),
) -> Result<bool, DriverError> {
    let containers: Vec<ContainerInfo> = project_containers(docker, project)
        .await?
        .into_iter()
        .filter(|c| c.service == service)
        .collect();
    if containers.is_empty() {
        return Ok(false);
    }
    let prefix = containers.len() > 1;
    let streams = containers.iter().map(|c| {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .build();
        let name = c.name.clone();
        docker
            .logs(&c.id, Some(options))
            .map(move |item| (name.clone(), item))
    });
    let mut merged = futures_util::stream::select_all(streams.map(Box::pin));
    while let Some((name, item)) = merged.next().await {
        let chunk =
            item.map_err(|e| DriverError::docker(format!("reading the logs of {name}"), e))?;
        let text = chunk.to_string();
        let written = if prefix {
            text.lines()
                .try_for_each(|line| writeln!(out, "{name} | {line}"))
        } else {
            out.write_all(text.as_bytes())
        };
        if written.and_then(|()| out.flush()).is_err() {
            break; // the reader went away (`| head`)
        }
    }
    Ok(true)
}
