//! `devstack up / down / reset / status / env / logs`: the Docker side without a compose file
//! in between — the driver of `devstack-compose` talks to the engine, starting from the same
//! compose model `render compose` writes (which is also written, with its `.env`, to
//! `.devstack/<stack>/`, so `docker compose` can take over at any time).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use devstack_compose::driver::ops::{self, StatusRow};
use devstack_compose::driver::progress::Progress;
use devstack_compose::driver::up::GpuPolicy;
use devstack_compose::driver::{self, Engine, StackContext, UpOptions};
use devstack_crds::plan::StackPlan;

use crate::load::LoadError;
use crate::state;

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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Writes `.devstack/<stack>/compose.yaml` and `.env`; the driver's view of the stack.
fn prepare(plan: &StackPlan) -> Result<StackContext> {
    let yaml = devstack_compose::render(plan)?;
    let path = state::compose_path(plan)?;
    let written = state::write_compose(plan, &yaml, &path)?;
    Ok(StackContext::new(plan, written.secrets, path)?)
}

/// `devstack up`: exit code 130 when interrupted (the next `up` continues from there).
pub fn up(plan: &StackPlan, args: &UpArgs) -> Result<u8> {
    let ctx = prepare(plan)?;
    let options = UpOptions {
        wait: args.wait,
        timeout: args.timeout,
        gpu: if args.require_gpu {
            GpuPolicy::Require
        } else {
            GpuPolicy::Auto
        },
    };
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let progress = Progress::new(ctx.active.iter());
        let result = tokio::select! {
            result = driver::up(&engine, &ctx, &options, &progress) => result,
            _ = tokio::signal::ctrl_c() => {
                progress.finish();
                eprintln!("interrupted: what was started keeps running; run `devstack up` again to continue, or `devstack down`");
                return Ok(130);
            }
        };
        progress.finish();
        let summary = result?;
        let counts = summary.services.values().fold(
            std::collections::BTreeMap::<&str, usize>::new(),
            |mut m, outcome| {
                *m.entry(outcome.split(',').next().unwrap_or_default()).or_default() += 1;
                m
            },
        );
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        eprintln!(
            "stack {} is up: {} services ({}); connection settings: devstack env {}",
            ctx.name(),
            summary.services.len(),
            counts.join(", "),
            args.file
        );
        Ok(0)
    })
}

/// `devstack down`: containers and networks go, volumes and credentials stay.
pub fn down(plan: &StackPlan) -> Result<()> {
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let summary = ops::down(&engine.docker, &plan.name).await?;
        eprintln!(
            "stack {} is down: removed {} containers and {} networks; volumes and credentials kept (devstack reset removes them)",
            plan.name,
            summary.containers.len(),
            summary.networks.len()
        );
        Ok(())
    })
}

/// `devstack reset`: down, remove the volumes, regenerate the credentials.
pub fn reset(plan: &StackPlan, yes: bool) -> Result<()> {
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(LoadError::Usage(format!(
                "reset deletes every volume of stack {:?} and its credentials; pass --yes to confirm",
                plan.name
            ))
            .into());
        }
        eprint!(
            "Delete the data (volumes) of stack {:?} and generate new credentials? [y/N] ",
            plan.name
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(());
        }
    }
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let down = ops::down(&engine.docker, &plan.name).await?;
        let volumes = ops::remove_volumes(&engine.docker, &plan.name).await?;
        state::regenerate_secrets(plan, &state::compose_path(plan)?)?;
        eprintln!(
            "stack {} reset: removed {} containers, {} volumes; new credentials in {}",
            plan.name,
            down.containers.len(),
            volumes.len(),
            state::env_path(&state::compose_path(plan)?).display()
        );
        Ok(())
    })
}

/// The status rows of the stack's services.
pub fn status_rows(plan: &StackPlan) -> Result<Vec<StatusRow>> {
    let expected: Vec<String> = plan.active_services().map(|s| s.name.clone()).collect();
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        Ok(ops::status(&engine.docker, &plan.name, &expected).await?)
    })
}

/// The status rows as a table.
pub fn status_table(rows: &[StatusRow]) -> String {
    let header = [
        "SERVICE",
        "CONTAINER",
        "STATE",
        "HEALTH",
        "PORTS",
        "IMAGE",
        "STATUS",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.service.clone(),
                r.container.clone(),
                r.state.clone(),
                r.health.clone(),
                if r.ports.is_empty() {
                    "-".to_string()
                } else {
                    r.ports.join(",")
                },
                r.image.clone(),
                r.status.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: &[String]| {
        let mut s: String = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}  "))
            .collect();
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&header.map(String::from));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

/// The `.env` values of the stack (generating them on first use, like `up`); the compose
/// file is not rewritten (that is `up`'s and `render compose`'s job).
pub fn secrets(plan: &StackPlan) -> Result<std::collections::BTreeMap<String, String>> {
    state::ensure_secrets_file(plan, &state::compose_path(plan)?)
}

/// `devstack logs`.
pub fn logs(plan: &StackPlan, service: &str, follow: bool) -> Result<()> {
    if !plan.services.contains_key(service) {
        let known: Vec<&str> = plan.services.keys().map(String::as_str).collect();
        return Err(LoadError::Usage(format!(
            "stack {:?} has no service {service:?} (services: {})",
            plan.name,
            known.join(", ")
        ))
        .into());
    }
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        let mut out = std::io::stdout();
        let found = ops::logs(&engine.docker, &plan.name, service, follow, &mut out).await?;
        out.flush()?;
        if !found {
            anyhow::bail!(
                "service {service:?} of stack {} has no container; start it with devstack up",
                plan.name
            );
        }
        Ok(())
    })
}

/// `devstack parity --live`: the running containers against the compose rendering.
pub fn live_parity(plan: &StackPlan) -> Result<crate::parity::Report> {
    let compose = state::compose_path(plan)?;
    let secrets = crate::secrets::read_env_file(&state::env_path(&compose))?;
    runtime()?.block_on(async {
        let engine = Engine::connect().await?;
        Ok(crate::parity::live::check(&engine, plan, &secrets).await?)
    })
}
