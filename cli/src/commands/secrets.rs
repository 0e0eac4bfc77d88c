//! `devstack secrets rotate`: new values for a stack's app secrets (the spec's `secrets`), in
//! its `.env`, and the containers that read them recreated. Catalog credentials are never
//! rotated: they protect data created with them (`devstack reset` replaces both together).
//! Values are never printed; `devstack env --show-secrets` shows them.

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::progress::Progress;
use devstack_docker::{Change, Engine, GpuPolicy, Stack, UpOptions};

use crate::load::LoadError;

/// Rotates `target` (`SERVICE.NAME`; every app secret without it), then, when the stack has
/// containers on the engine, runs `up` so that exactly the containers whose configuration
/// changed (the secrets' consumers) are recreated.
pub async fn rotate(plan: &StackPlan, root: &std::path::Path, target: Option<&str>) -> Result<()> {
    let chosen = devstack_core::secrets::rotation(plan, target).map_err(LoadError::Usage)?;
    if chosen.is_empty() {
        return Err(LoadError::Usage(format!(
            "stack {:?} has no app secrets: add `secrets: [NAME]` to a service",
            plan.name
        ))
        .into());
    }
    let stack = Stack::open(plan, root)?;
    let rotated = stack.rotate(target)?;
    let names: Vec<String> = plan
        .secrets
        .iter()
        .filter(|d| rotated.contains(&d.id.to_string()))
        .map(|d| format!("{}.{}", d.service, d.name))
        .collect();
    eprintln!(
        "rotated {} in {}",
        names.join(", "),
        stack.files().env.display()
    );
    let running = match Engine::connect().await {
        Ok(engine) => {
            let rows = stack.status(&engine).await?;
            rows.iter().any(|r| r.state != "missing").then_some(engine)
        }
        Err(_) => None,
    };
    let Some(engine) = running else {
        eprintln!("the stack is not running: the new values apply at the next `devstack up`");
        return Ok(());
    };
    let options = UpOptions {
        wait: true,
        timeout: std::time::Duration::from_secs(300),
        gpu: GpuPolicy::Auto,
    };
    let progress = Progress::new(stack.active());
    let summary = stack.up(&engine, &options, &progress).await;
    progress.finish();
    let summary = summary?;
    let recreated: Vec<&str> = summary
        .services
        .iter()
        .filter(|(_, o)| o.change == Change::Recreated)
        .map(|(s, _)| s.as_str())
        .collect();
    eprintln!(
        "recreated: {}",
        if recreated.is_empty() {
            "none".to_string()
        } else {
            recreated.join(", ")
        }
    );
    Ok(())
}
