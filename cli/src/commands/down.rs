//! `devstack down`: containers and networks go, volumes and credentials stay.

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::{Engine, Stack};

/// Takes the stack down and says what it removed.
pub async fn run(plan: &StackPlan, root: &std::path::Path) -> Result<()> {
    let engine = Engine::connect().await?;
    let stack = Stack::open_for(plan, root, engine.features)?;
    let summary = stack.down(&engine).await?;
    eprintln!(
        "stack {} is down: removed {} containers and {} networks; volumes and credentials kept (devstack reset removes them)",
        plan.name,
        summary.containers.len(),
        summary.networks.len()
    );
    Ok(())
}
