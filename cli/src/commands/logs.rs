//! `devstack logs`: a service's container logs, followed with `-f`.

use std::io::Write;

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::{Engine, Stack};

use crate::load::LoadError;

/// Writes the logs of `service` to standard output.
pub async fn run(
    plan: &StackPlan,
    root: &std::path::Path,
    service: &str,
    follow: bool,
) -> Result<()> {
    if !plan.services.contains_key(service) {
        let known: Vec<&str> = plan.services.keys().map(String::as_str).collect();
        return Err(LoadError::Usage(format!(
            "stack {:?} has no service {service:?} (services: {})",
            plan.name,
            known.join(", ")
        ))
        .into());
    }
    let engine = Engine::connect().await?;
    let stack = Stack::open_for(plan, root, engine.features)?;
    let mut out = std::io::stdout();
    let found = stack.logs(&engine, service, follow, &mut out).await?;
    out.flush()?;
    if !found {
        anyhow::bail!(
            "service {service:?} of stack {} has no container; start it with devstack up",
            plan.name
        );
    }
    Ok(())
}
