//! `up`: converge the engine onto the compose project. Networks and volumes first, then the
//! services in dependency order — independent ones concurrently, each after its dependencies
//! are ready. A container whose Compose config hash and image still match is left alone; a
//! changed one is recreated. When anything fails, what this `up` created is removed again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::future::{join_all, BoxFuture, FutureExt, Shared};
use futures_util::StreamExt;

use crate::model::Service;

use super::create::{container_spec, depends_on_label};
use super::hash::{network_hash, service_hash, volume_hash};
use super::labels::{self, ContainerLabels};
use super::ops::{project_containers, remove_quietly, ContainerInfo};
use super::progress::Progress;
use super::resolve::{parse_port, resolve_service};
use super::wait::{probe_argv, wait_ready};
use super::{is_not_found, DriverError, Engine, StackContext};
use crate::gpu::{cpu_fallback, gpu_count};

/// What to do about GPUs the engine cannot serve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuPolicy {
    /// Device requests where the engine can serve them, CPU (`DEVSTACK_GPU=0`) elsewhere.
    #[default]
    Auto,
    /// Fail when the engine cannot serve a GPU service (services with `gpuRequired: true` in
    /// the spec fail this way under either policy).
    Require,
}

/// Options of [`up`].
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Wait until every service is ready (dependencies are always waited for).
    pub wait: bool,
    /// How long the whole `up` may take.
    pub timeout: Duration,
    /// GPU handling.
    pub gpu: GpuPolicy,
}

/// What `up` did, service by service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpSummary {
    /// Service → `created`, `recreated`, `started` or `unchanged`.
    pub services: BTreeMap<String, String>,
}

/// A service as it should run.
struct Desired {
    service: Service,
    hash: String,
    image_id: String,
    replicas: u32,
}

/// What this `up` created, removed again on failure.
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

/// Brings the stack up (see the module docs). On failure nothing this call created is left.
pub async fn up(
    engine: &Engine,
    ctx: &StackContext,
    options: &UpOptions,
    progress: &Progress,
) -> Result<UpSummary, DriverError> {
    let deadline = Instant::now() + options.timeout;
    let desired = desired_services(engine, ctx, options, progress).await?;
    let created = Mutex::new(Created::default());
    let result = converge(engine, ctx, options, progress, &desired, &created, deadline).await;
    if result.is_err() {
        progress.finish();
        let created = created.into_inner().unwrap_or_else(|p| p.into_inner());
        rollback(engine, created).await;
    }
    result
}

async fn desired_services(
    engine: &Engine,
    ctx: &StackContext,
    options: &UpOptions,
    progress: &Progress,
) -> Result<BTreeMap<String, Desired>, DriverError> {
    let gpu_available = if ctx
        .project
        .services
        .iter()
        .any(|(n, s)| ctx.active.contains(n) && wants_gpu(s))
    {
        engine.gpu_support().await?
    } else {
        false
    };
    let mut image_ids: HashMap<String, String> = HashMap::new();
    let mut desired = BTreeMap::new();
    for (name, service) in &ctx.project.services {
        if !ctx.active.contains(name) {
            continue;
        }
        let mut service = resolve_service(name, service, &ctx.secrets)?;
        if wants_gpu(&service) {
            let required =
                options.gpu == GpuPolicy::Require || ctx.gpu_required.contains(name.as_str());
            if !gpu_available && required {
                let count = gpu_count(&service);
                return Err(DriverError::GpuRequired {
                    service: name.clone(),
                    count,
                });
            }
            service = gpu_choice(service, gpu_available);
        }
        let image_id = match image_ids.get(&service.image) {
            Some(id) => id.clone(),
            None => {
                let id = ensure_image(engine, name, &service.image, progress).await?;
                image_ids.insert(service.image.clone(), id.clone());
                id
            }
        };
        let hash = service_hash(&service)?;
        let replicas = service
            .deploy
            .as_ref()
            .and_then(|d| d.replicas)
            .unwrap_or(1);
        desired.insert(
            name.clone(),
            Desired {
                service,
                hash,
                image_id,
                replicas,
            },
        );
    }
    Ok(desired)
}

fn wants_gpu(service: &Service) -> bool {
    gpu_count(service) > 0
}

/// The GPU service as it runs here: unchanged (with its device request) where the engine can
/// serve it, on CPU ([`cpu_fallback`]) elsewhere.
pub fn gpu_choice(mut service: Service, available: bool) -> Service {
    if !available {
        cpu_fallback(&mut service);
    }
    service
}

/// The image id of `image`, pulling it when the engine does not have it.
async fn ensure_image(
    engine: &Engine,
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
    let mut pull = engine.docker.create_image(Some(options), None, None);
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

async fn converge(
    engine: &Engine,
    ctx: &StackContext,
    options: &UpOptions,
    progress: &Progress,
    desired: &BTreeMap<String, Desired>,
    created: &Mutex<Created>,
    deadline: Instant,
) -> Result<UpSummary, DriverError> {
    ensure_networks(engine, ctx, desired, created, progress).await?;
    ensure_volumes(engine, ctx, desired, created, progress).await?;
    let existing = project_containers(&engine.docker, ctx.name()).await?;
    // Like Compose, containers of services that left the stack are reported, not removed.
    for orphan in existing
        .iter()
        .filter(|c| !desired.contains_key(&c.service))
    {
        progress.note(&format!(
            "container {} belongs to service {:?}, which is not active in the stack any more; `devstack down` removes it",
            orphan.name, orphan.service
        ));
    }
    let errors: Mutex<Vec<DriverError>> = Mutex::new(Vec::new());
    let outcomes: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut tasks: BTreeMap<String, Shared<BoxFuture<'_, bool>>> = BTreeMap::new();
    for name in start_order(desired) {
        let want = &desired[&name];
        let deps: Vec<(String, Shared<BoxFuture<'_, bool>>)> = want
            .service
            .depends_on
            .keys()
            .filter_map(|d| tasks.get(d).map(|t| (d.clone(), t.clone())))
            .collect();
        let has_dependents = desired
            .values()
            .any(|d| d.service.depends_on.contains_key(&name));
        let must_wait = options.wait || has_dependents;
        let (existing, errors, outcomes) = (&existing, &errors, &outcomes);
        let key = name.clone();
        let task = async move {
            for (dep, ok) in deps {
                if !ok.await {
                    progress.done(&name, &format!("not started: {dep} failed"));
                    push(
                        errors,
                        DriverError::DependencyFailed {
                            service: name.clone(),
                            dependency: dep,
                        },
                    );
                    return false;
                }
            }
            let result = converge_service(
                engine, ctx, &name, want, existing, created, must_wait, progress, deadline,
            )
            .await;
            match result {
                Ok(outcome) => {
                    progress.done(&name, &outcome);
                    lock(outcomes).insert(name.clone(), outcome);
                    true
                }
                Err(error) => {
                    progress.done(&name, "failed");
                    push(errors, error);
                    false
                }
            }
        }
        .boxed()
        .shared();
        tasks.insert(key, task);
    }
    join_all(tasks.into_values()).await;
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    // Report the root causes, not the dependents they held back.
    if errors.len() > 1 {
        errors.retain(|e| !matches!(e, DriverError::DependencyFailed { .. }));
    }
    match errors.len() {
        0 => Ok(UpSummary {
            services: outcomes.into_inner().unwrap_or_else(|p| p.into_inner()),
        }),
        1 => Err(errors.remove(0)),
        _ => Err(DriverError::Many(errors)),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push(errors: &Mutex<Vec<DriverError>>, error: DriverError) {
    lock(errors).push(error);
}

/// Services with every dependency before its dependents (a validated plan has no cycles;
/// anything left over is appended so it still reports).
fn start_order(desired: &BTreeMap<String, Desired>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut left: Vec<&String> = desired.keys().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|name| {
            let ready = desired[*name]
                .service
                .depends_on
                .keys()
                .all(|d| !desired.contains_key(d) || order.contains(d));
            if ready {
                order.push((*name).clone());
            }
            !ready
        });
        if left.len() == before {
            order.extend(left.drain(..).cloned());
        }
    }
    order
}

#[allow(clippy::too_many_arguments)]
async fn converge_service(
    engine: &Engine,
    ctx: &StackContext,
    name: &str,
    want: &Desired,
    existing: &[ContainerInfo],
    created: &Mutex<Created>,
    must_wait: bool,
    progress: &Progress,
    deadline: Instant,
) -> Result<String, DriverError> {
    let docker = &engine.docker;
    let working_dir = ctx.working_dir.display().to_string();
    let config_file = ctx.config_file.display().to_string();
    let mut outcome = "unchanged";
    let mut containers = Vec::new();
    for number in 1..=want.replicas {
        let meta = ContainerLabels {
            project: ctx.name(),
            service: name,
            number,
            hash: &want.hash,
            image_id: &want.image_id,
            depends_on: depends_on_label(&want.service),
            working_dir: &working_dir,
            config_file: &config_file,
        };
        let spec = container_spec(&want.service, &meta)?;
        let current = existing
            .iter()
            .find(|c| c.service == name && c.number == number);
        match current {
            Some(c) if c.hash == want.hash && c.image_id == want.image_id => {
                if !c.running {
                    progress.step(name, "starting");
                    start(engine, name, &want.service, &c.id).await?;
                    outcome = "started";
                }
            }
            other => {
                if let Some(old) = other {
                    progress.step(name, "recreating");
                    remove_quietly(docker, &old.id).await;
                    outcome = "recreated";
                } else {
                    progress.step(name, "creating");
                    outcome = "created";
                }
                let options = CreateContainerOptionsBuilder::new()
                    .name(&spec.name)
                    .build();
                let response = docker
                    .create_container(Some(options), spec.body.clone())
                    .await
                    .map_err(|e| DriverError::docker(format!("creating {}", spec.name), e))?;
                lock(created).containers.push(response.id.clone());
                for (network, endpoint) in &spec.extra_networks {
                    docker
                        .connect_network(
                            network,
                            NetworkConnectRequest {
                                container: response.id.clone(),
                                endpoint_config: Some(endpoint.clone()),
                            },
                        )
                        .await
                        .map_err(|e| {
                            DriverError::docker(format!("joining {} to {network}", spec.name), e)
                        })?;
                }
                progress.step(name, "starting");
                start(engine, name, &want.service, &response.id).await?;
            }
        }
        containers.push(spec.name);
    }
    if must_wait {
        let probe = want.service.healthcheck.as_ref().and_then(probe_argv);
        let waiting = if probe.is_some() || want.service.healthcheck.is_some() {
            "waiting until healthy"
        } else {
            "waiting until running"
        };
        progress.step(name, waiting);
        for container in &containers {
            wait_ready(docker, name, container, probe.as_deref(), deadline).await?;
        }
        if want.service.healthcheck.is_some() {
            return Ok(format!("{outcome}, healthy"));
        }
    }
    Ok(format!("{outcome}, running"))
}

/// Starts a container; a taken host port becomes [`DriverError::PortTaken`].
async fn start(
    engine: &Engine,
    name: &str,
    service: &Service,
    id: &str,
) -> Result<(), DriverError> {
    match engine.docker.start_container(id, None).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            if text.contains("address already in use") || text.contains("port is already allocated")
            {
                let ports: Vec<u16> = service
                    .ports
                    .iter()
                    .filter_map(|p| parse_port(p).ok().map(|p| p.host))
                    .collect();
                let port = ports
                    .iter()
                    .copied()
                    .find(|p| text.contains(&format!(":{p}")))
                    .or_else(|| ports.first().copied())
                    .unwrap_or_default();
                return Err(DriverError::PortTaken {
                    service: name.to_string(),
                    port,
                });
            }
            Err(DriverError::docker(format!("starting {name}"), e))
        }
    }
}

async fn ensure_networks(
    engine: &Engine,
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
    for key in keys {
        let name = labels::network_name(ctx.name(), &key);
        match engine.docker.inspect_network(&name, None).await {
            Ok(_) => continue,
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

async fn ensure_volumes(
    engine: &Engine,
    ctx: &StackContext,
    desired: &BTreeMap<String, Desired>,
    created: &Mutex<Created>,
    progress: &Progress,
) -> Result<(), DriverError> {
    let mut keys: Vec<&String> = desired
        .values()
        .flat_map(|d| d.service.volumes.iter().map(|v| &v.source))
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let name = labels::volume_name(ctx.name(), key);
        match engine.docker.inspect_volume(&name).await {
            Ok(_) => continue,
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

/// Removes what a failed `up` created: its containers, then its (now unused) networks and
/// volumes. Best effort: the original error is what the user needs to see.
async fn rollback(engine: &Engine, created: Created) {
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
