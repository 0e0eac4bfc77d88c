//! `devstack dev` on Docker: starts (or adopts) the stack like `devstack up`, then watches the
//! sync sources and build contexts (`notify`, debounced) until Ctrl-C. A synced file is in the
//! container already (a bind mount); `restart: true` restarts the service's containers. A
//! change in a build context outside the sync sources (a lock file) re-derives the content
//! tag: when it changed, the image is rebuilt and the service recreated. One line per batch
//! and service says what happened: synced files, last sync latency, restarts, rebuilds; the
//! services' own output follows as `service | line`.
//!
//! Kubernetes (an `emptyDir` filled through the exec API) is [`super::dev_k8s`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::ValueEnum;
use devstack_core::plan::StackPlan;
use devstack_docker::labels::container_name;
use devstack_docker::progress::Progress;
use devstack_docker::{Engine, Stack, UpOptions};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::StackArgs;
use crate::devwatch::{classify, Change, Debouncer};

/// `devstack dev --runtime`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevRuntime {
    /// The local Docker engine.
    Docker,
    /// The cluster of the current kubeconfig: the stack is applied, sync goes through exec.
    Kubernetes,
}

/// On Docker the built images stay in the local engine and the stack runs as its own Compose
/// project: `--load`, `--containerd`, `--kind-cluster` and `--namespace` belong to
/// `--runtime kubernetes`, and are refused rather than silently ignored.
pub fn refuse_cluster_options(
    build: &super::build::BuildArgs,
    namespace: Option<&str>,
) -> Result<(), crate::load::LoadError> {
    let mut given = build.cluster_options();
    if namespace.is_some() {
        given.push("--namespace");
    }
    if given.is_empty() {
        return Ok(());
    }
    Err(crate::load::LoadError::Usage(format!(
        "{} only apply to `devstack dev --runtime kubernetes`; on Docker the images stay in the local engine: add --runtime kubernetes, or drop {}",
        given.join(", "),
        if given.len() == 1 { "it" } else { "them" }
    )))
}

/// Per-service counters shown after each batch.
#[derive(Default, Debug)]
struct Stats {
    synced: usize,
    last_latency: Option<Duration>,
    restarts: usize,
    rebuilds: usize,
}

/// Runs the loop until Ctrl-C; the stack keeps running afterwards.
pub async fn run(args: &StackArgs) -> Result<()> {
    let root = args.state_root()?;
    let engine = Engine::connect().await?;
    let mut plan = args.plan()?;
    up(&engine, &plan, &root).await?;
    // The services' own output beside the counters (re-attached after restarts and rebuilds).
    for service in plan
        .active_services()
        .filter(|s| s.build.is_some() || !s.sync.is_empty())
    {
        crate::logtail::follow_docker(
            engine.docker.clone(),
            plan.name.clone(),
            service.name.clone(),
        );
    }
    let (_watcher, mut rx) = start_watching(&plan)?;
    eprintln!("devstack dev: watching; Ctrl-C stops watching (the stack keeps running)");
    let mut debouncer = Debouncer::new(Duration::from_millis(50));
    let mut stats: BTreeMap<String, Stats> = BTreeMap::new();
    loop {
        tokio::select! {
            event = rx.recv() => absorb(event, &mut debouncer),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Some((paths, first)) = debouncer.ready(Instant::now()) {
                    plan = handle(&engine, args, plan, &root, &paths, first, &mut stats).await?;
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}

/// The directories to watch: every sync source and build context of an active service.
pub(crate) fn watched(plan: &StackPlan) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = plan
        .active_services()
        .flat_map(|s| {
            s.sync
                .iter()
                .map(|y| PathBuf::from(&y.source))
                .chain(s.build.iter().map(|b| PathBuf::from(&b.context)))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    // A directory inside another watched one is covered by the recursive watch.
    let all = dirs.clone();
    dirs.retain(|d| !all.iter().any(|o| o != d && d.starts_with(o)));
    dirs
}

/// File events of the stack's sync sources and build contexts (keep the watcher alive).
pub(super) type Events = tokio::sync::mpsc::UnboundedReceiver<notify::Result<notify::Event>>;

/// Starts watching what [`watched`] names, recursively.
pub(super) fn start_watching(plan: &StackPlan) -> Result<(RecommendedWatcher, Events)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = tx.send(event);
    })
    .context("starting the file watcher")?;
    for dir in watched(plan) {
        watcher
            .watch(&dir, RecursiveMode::Recursive)
            .with_context(|| format!("watching {}", dir.display()))?;
    }
    Ok((watcher, rx))
}

/// Feeds a file event's paths to the debouncer (reads are not changes).
pub(super) fn absorb(event: Option<notify::Result<notify::Event>>, debouncer: &mut Debouncer) {
    let Some(Ok(event)) = event else { return };
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    for path in event.paths {
        debouncer.push(path, Instant::now());
    }
}

async fn up(engine: &Engine, plan: &StackPlan, root: &std::path::Path) -> Result<()> {
    let stack = Stack::open_for(plan, root, engine.features)?;
    stack.write_files()?;
    let progress = Progress::new(stack.active());
    devstack_docker::build::build_all(&engine.docker, plan, &progress).await?;
    let options = UpOptions {
        wait: false,
        timeout: Duration::from_secs(300),
        gpu: devstack_docker::GpuPolicy::Auto,
    };
    stack.up(engine, &options, &progress).await?;
    progress.finish();
    Ok(())
}

async fn handle(
    engine: &Engine,
    args: &StackArgs,
    plan: StackPlan,
    root: &std::path::Path,
    paths: &[PathBuf],
    first: Instant,
    stats: &mut BTreeMap<String, Stats>,
) -> Result<StackPlan> {
    let mut changes: Vec<Change> = paths.iter().flat_map(|p| classify(&plan, p)).collect();
    changes.sort();
    changes.dedup();
    let mut plan = plan;
    for change in &changes {
        match change {
            Change::Synced { service, restart } => {
                let entry = stats.entry(service.clone()).or_default();
                entry.synced += paths.len();
                entry.last_latency = Some(first.elapsed());
                if *restart {
                    restart_service(engine, &plan, service).await?;
                    stats.entry(service.clone()).or_default().restarts += 1;
                }
            }
            Change::Context { service } => {
                let replanned = args.plan()?;
                let old = plan.services.get(service).map(|s| s.image.clone());
                let new = replanned.services.get(service).map(|s| s.image.clone());
                if old != new {
                    up(engine, &replanned, root).await?;
                    stats.entry(service.clone()).or_default().rebuilds += 1;
                    plan = replanned;
                }
            }
        }
    }
    for (service, s) in stats.iter() {
        let latency = s
            .last_latency
            .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
        eprintln!(
            "{service}: synced {} files, last sync {latency}, restarts {}, rebuilds {}",
            s.synced, s.restarts, s.rebuilds
        );
    }
    Ok(plan)
}

async fn restart_service(engine: &Engine, plan: &StackPlan, service: &str) -> Result<()> {
    let replicas = plan.services.get(service).map_or(1, |s| s.replicas());
    for number in 1..=replicas {
        let name = container_name(&plan.name, service, number);
        engine
            .docker
            .restart_container(
                &name,
                None::<bollard::query_parameters::RestartContainerOptions>,
            )
            .await
            .with_context(|| format!("restarting {name}"))?;
    }
    Ok(())
}
