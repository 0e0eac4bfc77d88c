//! `devstack dev --runtime kubernetes`: applies (or adopts) the stack as `devstack apply` does,
//! waits for each synced service's pods, fills every sync target (an `emptyDir`) with an
//! initial upload, then watches the sources and sends each batch through the exec API: a tar
//! stream on the stdin of `tar -x` in the container, deletes as `rm -rf -- PATH…` (paths as
//! argv, never a shell string). A pod seen for the first time (rollout, crash, restart) gets
//! the full upload again. `restart: true` deletes the service's pods: the process restarts
//! whatever PID 1 is (a signal to PID 1 is ignored by a shell without a handler), and the
//! new pod's `emptyDir` is filled again. A change in a build context outside the sync
//! sources re-applies (build, load, apply) when the content tag changed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use devstack_core::conventions::{LABEL_SERVICE, LABEL_STACK};
use devstack_core::plan::StackPlan;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess, DeleteParams, ListParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::build::{apply_file, BuildArgs};
use super::dev::{absorb, start_watching};
use super::StackArgs;
use crate::devwatch::{classify, Change, Debouncer};
use crate::ksync::{batches, entry, source_files, syncs, tar_archive, Batch};

/// Per-service counters shown after each batch.
#[derive(Default, Debug)]
struct Stats {
    synced: usize,
    deleted: usize,
    last_latency: Option<Duration>,
    restarts: usize,
    full_uploads: usize,
    rebuilds: usize,
}

/// The pods of the stack and what they were sent.
struct Syncer {
    pods: Api<Pod>,
    /// Running pods per synced service that had their full upload.
    known: BTreeMap<String, BTreeSet<String>>,
    stats: BTreeMap<String, Stats>,
}

/// Runs the loop until Ctrl-C; the stack keeps running afterwards.
pub async fn run(args: &StackArgs, build: &BuildArgs, namespace: Option<String>) -> Result<()> {
    let mut plan = apply_file(args, build, namespace.as_deref()).await?;
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (KUBECONFIG)")?;
    let ns = plan.namespace.clone().unwrap_or_else(|| "default".into());
    let mut syncer = Syncer {
        pods: Api::namespaced(client, &ns),
        known: BTreeMap::new(),
        stats: BTreeMap::new(),
    };
    syncer
        .wait_for_pods(&plan, Duration::from_secs(300))
        .await?;
    let (_watcher, mut rx) = start_watching(&plan)?;
    eprintln!("devstack dev: watching; Ctrl-C stops watching (the stack keeps running)");
    let mut debouncer = Debouncer::new(Duration::from_millis(50));
    let mut last_refresh = Instant::now();
    loop {
        tokio::select! {
            event = rx.recv() => absorb(event, &mut debouncer),
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if let Some((paths, first)) = debouncer.ready(Instant::now()) {
                    plan = syncer.handle(args, build, namespace.as_deref(), plan, &paths, first).await?;
                }
                if last_refresh.elapsed() >= Duration::from_secs(1) {
                    if let Err(e) = syncer.refresh(&plan).await {
                        eprintln!("devstack dev: listing the pods failed, trying again: {e:#}");
                    }
                    last_refresh = Instant::now();
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}

/// Whether `pod` runs its service's container (not terminating).
fn running(pod: &Pod, service: &str) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod.status.as_ref().is_some_and(|s| {
            s.phase.as_deref() == Some("Running")
                && s.container_statuses.iter().flatten().any(|c| {
                    c.name == service && c.state.as_ref().is_some_and(|st| st.running.is_some())
                })
        })
}

/// The synced services of `plan`.
fn synced_services(plan: &StackPlan) -> Vec<String> {
    plan.active_services()
        .filter(|s| !s.sync.is_empty())
        .map(|s| s.name.clone())
        .collect()
}

impl Syncer {
    /// The running pods of `service`.
    async fn running_pods(&self, plan: &StackPlan, service: &str) -> Result<Vec<String>> {
        let selector = format!("{LABEL_STACK}={},{LABEL_SERVICE}={service}", plan.name);
        let list = self
            .pods
            .list(&ListParams::default().labels(&selector))
            .await
            .with_context(|| format!("listing the pods of {service}"))?;
        Ok(list
            .items
            .iter()
            .filter(|p| running(p, service))
            .filter_map(|p| p.metadata.name.clone())
            .collect())
    }

    /// Waits until every synced service has a running pod, filling each new one.
    async fn wait_for_pods(&mut self, plan: &StackPlan, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            self.refresh(plan).await?;
            let missing: Vec<String> = synced_services(plan)
                .into_iter()
                .filter(|s| self.known.get(s).is_none_or(|p| p.is_empty()))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("no running pod of {} after {}s: kubectl get pods -n {} and the DevStack status say why", missing.join(", "), timeout.as_secs(), self.pods_namespace(plan));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn pods_namespace(&self, plan: &StackPlan) -> String {
        plan.namespace.clone().unwrap_or_else(|| "default".into())
    }

    /// Gives each running pod seen for the first time its full upload; forgets gone pods.
    async fn refresh(&mut self, plan: &StackPlan) -> Result<()> {
        for service in synced_services(plan) {
            let pods = self.running_pods(plan, &service).await?;
            let known = self.known.entry(service.clone()).or_default();
            known.retain(|p| pods.contains(p));
            let new: Vec<String> = pods.into_iter().filter(|p| !known.contains(p)).collect();
            for pod in new {
                let start = Instant::now();
                let files = match self.fill(plan, &service, &pod).await {
                    Ok(files) => files,
                    Err(e) => {
                        // Tried again at the next refresh (the pod may be going away).
                        eprintln!("{service}: full upload to pod {pod} failed, retrying: {e:#}");
                        continue;
                    }
                };
                self.known
                    .entry(service.clone())
                    .or_default()
                    .insert(pod.clone());
                self.stats.entry(service.clone()).or_default().full_uploads += 1;
                eprintln!(
                    "{service}: full upload of {files} files to pod {pod} in {} ms",
                    start.elapsed().as_millis()
                );
                // Its output from now on, as `service | line`, until the pod goes away.
                crate::logtail::follow_pod(self.pods.clone(), pod.clone(), service.clone());
            }
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        args: &StackArgs,
        build: &BuildArgs,
        namespace: Option<&str>,
        plan: StackPlan,
        paths: &[std::path::PathBuf],
        first: Instant,
    ) -> Result<StackPlan> {
        let mut touched = BTreeSet::new();
        for batch in batches(&plan, paths, entry) {
            self.send(&batch).await?;
            touched.insert(batch.service.clone());
            let stats = self.stats.entry(batch.service.clone()).or_default();
            stats.synced += batch.upload.len();
            stats.deleted += batch.delete.len();
            stats.last_latency = Some(first.elapsed());
            if batch.restart {
                self.restart(&batch.service).await?;
            }
        }
        let mut plan = plan;
        let contexts: BTreeSet<String> = paths
            .iter()
            .flat_map(|p| classify(&plan, p))
            .filter_map(|c| match c {
                Change::Context { service } => Some(service),
                Change::Synced { .. } => None,
            })
            .collect();
        if !contexts.is_empty() {
            let replanned = args.plan()?;
            let image = |p: &StackPlan, s: &str| p.services.get(s).map(|s| s.image.clone());
            let changed: Vec<&String> = contexts
                .iter()
                .filter(|s| image(&plan, s) != image(&replanned, s))
                .collect();
            if !changed.is_empty() {
                plan = apply_file(args, build, namespace).await?;
                for service in changed {
                    self.stats.entry(service.clone()).or_default().rebuilds += 1;
                    touched.insert(service.clone());
                }
            }
        }
        for service in touched {
            let s = self.stats.entry(service.clone()).or_default();
            let latency = s
                .last_latency
                .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()));
            eprintln!(
                "{service}: synced {} files, deleted {}, last sync {latency}, restarts {}, full uploads {}, rebuilds {}",
                s.synced, s.deleted, s.restarts, s.full_uploads, s.rebuilds
            );
        }
        Ok(plan)
    }

    /// Sends `batch` to every known pod of its service. A pod it fails for is forgotten: the
    /// next refresh gives it (or its replacement) the full upload.
    async fn send(&mut self, batch: &Batch) -> Result<()> {
        let pods = self.known.get(&batch.service).cloned().unwrap_or_default();
        let bytes = if batch.upload.is_empty() {
            None
        } else {
            let archive = tar_archive(&batch.sync(), &batch.upload)
                .with_context(|| format!("archiving {}", batch.source.display()))?;
            Some(archive)
        };
        for pod in &pods {
            if let Err(e) = self.send_to(batch, pod, bytes.clone()).await {
                eprintln!(
                    "{}: sync to pod {pod} failed, refilling it: {e:#}",
                    batch.service
                );
                if let Some(known) = self.known.get_mut(&batch.service) {
                    known.remove(pod);
                }
            }
        }
        Ok(())
    }

    async fn send_to(&self, batch: &Batch, pod: &str, bytes: Option<Vec<u8>>) -> Result<()> {
        if let Some(bytes) = bytes {
            upload(&self.pods, pod, &batch.service, &batch.target, bytes).await?;
        }
        if !batch.delete.is_empty() {
            let mut command = vec!["rm".to_string(), "-rf".into(), "--".into()];
            command.extend(batch.delete.iter().cloned());
            let what = format!("deleting in {pod}");
            exec(&self.pods, pod, &batch.service, command, None, &what).await?;
        }
        Ok(())
    }

    /// The full upload of every sync of `service` to `pod`; the number of files sent.
    async fn fill(&self, plan: &StackPlan, service: &str, pod: &str) -> Result<usize> {
        let mut files = 0;
        for sync in syncs(plan, service) {
            let list = source_files(sync)
                .with_context(|| format!("reading the sync source {}", sync.source))?;
            files += list.len();
            let bytes =
                tar_archive(sync, &list).with_context(|| format!("archiving {}", sync.source))?;
            upload(&self.pods, pod, service, &sync.target, bytes).await?;
        }
        Ok(files)
    }

    /// Restarts `service`'s process by deleting its pods; the new ones get a full upload.
    async fn restart(&mut self, service: &str) -> Result<()> {
        let pods = self.known.remove(service).unwrap_or_default();
        for pod in &pods {
            self.pods
                .delete(pod, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting pod {pod} to restart {service}"))?;
        }
        self.stats.entry(service.to_string()).or_default().restarts += 1;
        Ok(())
    }
}

/// Extracts the tar `bytes` into `target` in `pod`'s container `container`.
async fn upload(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    target: &str,
    bytes: Vec<u8>,
) -> Result<()> {
    let command = ["tar", "-x", "-o", "-f", "-", "-C", target].map(String::from);
    let what = format!("uploading to {pod}:{target}");
    exec(pods, pod, container, command.to_vec(), Some(bytes), &what).await
}

/// Runs `command` (argv) in the container, `stdin` written then closed; an error with the
/// command's standard error unless it succeeded.
async fn exec(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    command: Vec<String>,
    stdin: Option<Vec<u8>>,
    what: &str,
) -> Result<()> {
    let params = AttachParams::default()
        .container(container)
        .stdin(stdin.is_some())
        .stdout(false)
        .stderr(true);
    let mut process = connect(pods, pod, &command, &params)
        .await
        .with_context(|| format!("{what}: exec"))?;
    if let Some(bytes) = stdin {
        let mut writer = process.stdin().context("exec without stdin")?;
        writer
            .write_all(&bytes)
            .await
            .with_context(|| format!("{what}: stdin"))?;
        writer
            .shutdown()
            .await
            .with_context(|| format!("{what}: closing stdin"))?;
    }
    finish(process, what).await
}

/// Opens the exec stream, again up to 4 times 250 ms apart: a fresh pod's first exec can meet
/// `error dialing backend` (the API server's connection to the kubelet); nothing was sent yet.
async fn connect(
    pods: &Api<Pod>,
    pod: &str,
    command: &[String],
    params: &AttachParams,
) -> kube::Result<AttachedProcess> {
    let mut attempt = 0;
    loop {
        match pods.exec(pod, command.to_vec(), params).await {
            Ok(process) => return Ok(process),
            Err(e) if attempt >= 4 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

async fn finish(mut process: AttachedProcess, what: &str) -> Result<()> {
    let status = process.take_status().context("exec without status")?;
    let mut stderr = String::new();
    if let Some(mut reader) = process.stderr() {
        let _ = reader.read_to_string(&mut stderr).await;
    }
    let status = status.await;
    let ok = status.as_ref().and_then(|s| s.status.as_deref()) == Some("Success");
    if !ok {
        let message = status.and_then(|s| s.message).unwrap_or_default();
        bail!("{what}: {message} {}", stderr.trim());
    }
    Ok(())
}
