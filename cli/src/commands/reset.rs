//! `devstack reset`: down, remove the volumes (data!), generate new credentials.

use std::io::IsTerminal;

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::{Engine, Stack};

use crate::load::LoadError;

/// Asks on a terminal (refuses without one unless `yes`), then resets the stack.
pub async fn run(plan: &StackPlan, root: &std::path::Path, yes: bool) -> Result<()> {
    if !yes && !confirmed(plan)? {
        eprintln!("nothing changed");
        return Ok(());
    }
    let engine = Engine::connect().await?;
    let stack = Stack::open_for(plan, root, engine.features)?;
    let reset = stack.reset(&engine).await?;
    eprintln!(
        "stack {} reset: removed {} containers, {} volumes; new credentials in {}",
        plan.name,
        reset.down.containers.len(),
        reset.volumes.len(),
        stack.files().env.display()
    );
    Ok(())
}

/// The user's answer on a terminal; without one, an error asking for `--yes`.
fn confirmed(plan: &StackPlan) -> Result<bool> {
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
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
