//! `devstack parity`: both renderings read back and compared, or (`--live`) one rendering
//! against what runs on the Docker engine or in the cluster.

use std::process::ExitCode;

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::{Engine, Stack};
use devstack_parity::Report;

use super::{LiveRuntime, StackArgs};
use crate::output::{self, Format};

/// Prints the parity matrix; exit code 1 on any mismatch.
pub async fn run(
    stack: &StackArgs,
    format: Format,
    live: Option<LiveRuntime>,
    namespace: Option<String>,
) -> Result<ExitCode> {
    let mut plan = stack.plan()?;
    if let Some(namespace) = namespace {
        plan.namespace = Some(crate::load::check_namespace(namespace)?);
    }
    let (report, heading) = match live {
        None => (devstack_parity::check(&plan)?, None),
        Some(LiveRuntime::Docker) => (
            docker(&plan, &stack.state_root()?).await?,
            Some("compose rendering vs running containers"),
        ),
        Some(LiveRuntime::Kubernetes) => (
            cluster(&plan).await?,
            Some("kubernetes rendering vs objects in the cluster"),
        ),
    };
    match format {
        Format::Table => output::print(&match heading {
            Some(heading) => report.table().replacen("kubernetes vs compose", heading, 1),
            None => report.table(),
        })?,
        Format::Json => output::print_json(&report)?,
    }
    if report.mismatches() > 0 {
        eprintln!("error: {} parity mismatches", report.mismatches());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--live`: the running containers against the compose rendering.
async fn docker(plan: &StackPlan, root: &std::path::Path) -> Result<Report> {
    let secrets = Stack::open(plan, root)?.env_as_is()?;
    let engine = Engine::connect().await?;
    Ok(devstack_parity::live::check(&engine, plan, &secrets).await?)
}

/// `--live --runtime kubernetes`: the stack's objects in the cluster of the current
/// kubeconfig (or the in-cluster config) against the Kubernetes rendering.
async fn cluster(plan: &StackPlan) -> Result<Report> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach a Kubernetes cluster ({e}); set KUBECONFIG"))?;
    Ok(devstack_parity::cluster::check(&client, plan).await?)
}
