//! `up`: converge the engine onto the compose project. Networks and volumes first, then the
//! services in dependency order — independent ones concurrently, each after its dependencies
//! are ready. A container whose Compose config hash and image still match is left alone; a
//! changed one is replaced: stopped gracefully and set aside, removed only once its successor
//! is ready, restored when the successor fails (the `recreate` module). When anything fails,
//! what this `up` created is removed again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture, FutureExt, Shared};

use devstack_render_compose::model::Service;

use super::create::{container_spec, depends_on_label};
use super::hash::service_hash;
use super::labels::ContainerLabels;
use super::ops::{project_containers, ContainerInfo};
use super::progress::Progress;
use super::provision::{ensure_image, ensure_networks, ensure_volumes, rollback, Created};
use super::recreate;
use super::resolve::resolve_service;
use super::wait::{probe_argv, wait_ready};
use super::{DriverError, Engine, StackContext};
use crate::api::DockerApi;
use devstack_render_compose::gpu::{cpu_fallback, gpu_count};

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
    /// Service → what was done to its containers and how far it was brought.
    pub services: BTreeMap<String, ServiceOutcome>,
}

/// What `up` did to a service's containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// Its containers already matched and ran.
    Unchanged,
    /// A matching, stopped container was started.
    Started,
    /// A changed container was replaced.
    Recreated,
    /// It had no container.
    Created,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::Unchanged => "unchanged",
            Change::Started => "started",
            Change::Recreated => "recreated",
            Change::Created => "created",
        })
    }
}

/// How far `up` brought a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// Its containers run (not waited for, or no health check).
    Running,
    /// Its health check passes.
    Healthy,
}

/// One service's outcome: `created, healthy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceOutcome {
    /// What was done to its containers.
    pub change: Change,
    /// How far it was brought.
    pub reached: Reached,
}

impl std::fmt::Display for ServiceOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reached = match self.reached {
            Reached::Running => "running",
            Reached::Healthy => "healthy",
        };
        write!(f, "{}, {reached}", self.change)
    }
}

/// A service as it should run.
pub(crate) struct Desired {
    pub service: Service,
    pub hash: String,
    pub image_id: String,
    pub replicas: u32,
}

/// Brings the stack up (see the module docs). On failure nothing this call created is left.
pub async fn up<D: DockerApi>(
    engine: &Engine<D>,
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

async fn desired_services<D: DockerApi>(
    engine: &Engine<D>,
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

async fn converge<D: DockerApi>(
    engine: &Engine<D>,
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
    report_orphans(&existing, desired, progress);
    let errors: Mutex<Vec<DriverError>> = Mutex::new(Vec::new());
    let outcomes: Mutex<BTreeMap<String, ServiceOutcome>> = Mutex::new(BTreeMap::new());
    let mut tasks: BTreeMap<String, Shared<BoxFuture<'_, bool>>> = BTreeMap::new();
    // The plan's one start order: a dependency's task exists before its dependents'.
    let order: Vec<&String> = ctx
        .start_order
        .iter()
        .filter(|n| desired.contains_key(*n))
        .collect();
    for name in order {
        let name = name.clone();
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
                    progress.done(&name, &outcome.to_string());
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
    summary(
        errors.into_inner().unwrap_or_else(|p| p.into_inner()),
        outcomes.into_inner().unwrap_or_else(|p| p.into_inner()),
    )
}

/// Like Compose, containers of services that left the stack are reported, not removed.
fn report_orphans(
    existing: &[ContainerInfo],
    desired: &BTreeMap<String, Desired>,
    progress: &Progress,
) {
    for orphan in existing
        .iter()
        .filter(|c| !desired.contains_key(&c.service))
    {
        progress.note(&format!(
            "container {} belongs to service {:?}, which is not active in the stack any more; `devstack down` removes it",
            orphan.name, orphan.service
        ));
    }
}

/// Every service's outcome, or the root causes of the failures (not the dependents they held
/// back).
fn summary(
    mut errors: Vec<DriverError>,
    outcomes: BTreeMap<String, ServiceOutcome>,
) -> Result<UpSummary, DriverError> {
    if errors.len() > 1 {
        errors.retain(|e| !matches!(e, DriverError::DependencyFailed { .. }));
    }
    match errors.len() {
        0 => Ok(UpSummary { services: outcomes }),
        1 => Err(errors.remove(0)),
        _ => Err(DriverError::Many(errors)),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push(errors: &Mutex<Vec<DriverError>>, error: DriverError) {
    lock(errors).push(error);
}

/// Converges one service; containers it replaced are removed once their successors are
/// ready, or restored when they fail (see [`crate::recreate`]).
#[allow(clippy::too_many_arguments)]
async fn converge_service<D: DockerApi>(
    engine: &Engine<D>,
    ctx: &StackContext,
    name: &str,
    want: &Desired,
    existing: &[ContainerInfo],
    created: &Mutex<Created>,
    must_wait: bool,
    progress: &Progress,
    deadline: Instant,
) -> Result<ServiceOutcome, DriverError> {
    let mut replaced = Vec::new();
    let result = bring_up(
        engine,
        ctx,
        (name, want),
        existing,
        created,
        must_wait,
        progress,
        deadline,
        &mut replaced,
    )
    .await;
    for r in &replaced {
        match result {
            Ok(_) => recreate::retire(&engine.docker, r).await,
            Err(_) => recreate::restore(&engine.docker, r).await,
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn bring_up<D: DockerApi>(
    engine: &Engine<D>,
    ctx: &StackContext,
    (name, want): (&str, &Desired),
    existing: &[ContainerInfo],
    created: &Mutex<Created>,
    must_wait: bool,
    progress: &Progress,
    deadline: Instant,
    replaced: &mut Vec<recreate::Replaced>,
) -> Result<ServiceOutcome, DriverError> {
    let docker = &engine.docker;
    let working_dir = ctx.working_dir.display().to_string();
    let config_file = ctx.config_file.display().to_string();
    let mut change = Change::Unchanged;
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
                    change = Change::Started;
                }
            }
            other => {
                if let Some(old) = other {
                    progress.step(name, "recreating");
                    replaced.push(recreate::set_aside(docker, old).await?);
                    change = Change::Recreated;
                } else {
                    progress.step(name, "creating");
                    change = Change::Created;
                }
                let id = recreate::create(docker, &spec, replaced, created).await?;
                recreate::join_networks(docker, &spec, &id).await?;
                progress.step(name, "starting");
                start(engine, name, &want.service, &id).await?;
            }
        }
        containers.push(spec.name);
    }
    // A replaced container goes only once its successor is ready. An unchanged running
    // container without a health check is ready as listed (no call to wait for it).
    let listed_ready = change == Change::Unchanged && want.service.healthcheck.is_none();
    let reached = if (must_wait && !listed_ready) || !replaced.is_empty() {
        wait_for(docker, (name, want), &containers, progress, deadline).await?
    } else {
        Reached::Running
    };
    Ok(ServiceOutcome { change, reached })
}

/// Waits until every one of `containers` is ready: healthy when the service has a health
/// check, running otherwise.
async fn wait_for<D: DockerApi>(
    docker: &D,
    (name, want): (&str, &Desired),
    containers: &[String],
    progress: &Progress,
    deadline: Instant,
) -> Result<Reached, DriverError> {
    let probe = want.service.healthcheck.as_ref().and_then(probe_argv);
    let checked = probe.is_some() || want.service.healthcheck.is_some();
    let waiting = if checked {
        "waiting until healthy"
    } else {
        "waiting until running"
    };
    progress.step(name, waiting);
    for container in containers {
        wait_ready(docker, name, container, probe.as_deref(), deadline).await?;
    }
    Ok(if want.service.healthcheck.is_some() {
        Reached::Healthy
    } else {
        Reached::Running
    })
}

/// Starts a container; a taken host port becomes [`DriverError::PortTaken`].
async fn start<D: DockerApi>(
    engine: &Engine<D>,
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
                let ports: Vec<u16> = service.ports.iter().map(|p| p.host).collect();
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
