//! `devstack validate`: exit 0 when the stack is valid, 2 with every problem listed when not.

use anyhow::Result;

use super::StackArgs;
use crate::output;

/// Validates the stack file and prints a one-line summary.
pub fn run(args: &StackArgs) -> Result<()> {
    let plan = args.plan()?;
    let active: Vec<&str> = plan.active_services().map(|s| s.name.as_str()).collect();
    output::print(&format!(
        "{}: valid: stack {:?}, {} services, {} active ({})\n",
        args.file.display(),
        plan.name,
        plan.services.len(),
        active.len(),
        active.join(", ")
    ))
}
