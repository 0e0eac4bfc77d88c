//! `devstack up`: the Docker side without a compose file in between — the driver
//! (`devstack-docker`) talks to the engine, starting from the same compose model `render
//! compose` writes (which is also written, with its `.env`, to `.devstack/<stack>/`, so
//! `docker compose` can take over at any time).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::progress::Progress;
use devstack_docker::{Engine, GpuPolicy, Stack, UpOptions};

/// Options of `devstack up`.
#[derive(Clone, Debug)]
pub struct UpArgs {
    /// Wait for every service to be healthy.
    pub wait: bool,
    /// Overall time limit.
    pub timeout: Duration,
    /// Fail instead of falling back to CPU.
    pub require_gpu: bool,
    /// The stack file, as given (for the closing hint).
    pub file: String,
}

/// `devstack up`: exit code 130 when interrupted (the next `up` continues from there).
pub async fn run(plan: &StackPlan, root: &std::path::Path, args: &UpArgs) -> Result<u8> {
    let engine = Engine::connect().await?;
    let stack = Stack::open_for(plan, root, engine.features)?;
    let options = UpOptions {
        wait: args.wait,
        timeout: args.timeout,
        gpu: if args.require_gpu {
            GpuPolicy::Require
        } else {
            GpuPolicy::Auto
        },
    };
    stack.write_files()?;
    let progress = Progress::new(stack.active());
    let result = tokio::select! {
        result = async {
            // Images of `build` services first: an unchanged context is not rebuilt.
            devstack_docker::build::build_all(&engine.docker, plan, &progress).await?;
            Ok::<_, anyhow::Error>(stack.up(&engine, &options, &progress).await?)
        } => result,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            eprintln!("interrupted: what was started keeps running; run `devstack up` again to continue, or `devstack down`");
            return Ok(130);
        }
    };
    progress.finish();
    let summary = result?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in summary.services.values() {
        *counts.entry(outcome.change.to_string()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "stack {} is up: {} services ({}); connection settings: devstack env {}",
        stack.name(),
        summary.services.len(),
        counts.join(", "),
        args.file
    );
    Ok(0)
}
