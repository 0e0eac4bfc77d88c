//! `devstack render graph`: the reachability graph of a stack as Graphviz DOT (services,
//! `dependsOn` edges, prometheus's scrape edges), for `dot -Tsvg`.

use anyhow::Result;

use super::StackArgs;
use crate::output;

/// Prints the DOT graph of the stack.
pub fn run(stack: &StackArgs) -> Result<()> {
    let plan = stack.plan()?;
    output::print(&devstack_core::plan::observability::graph_dot(&plan))
}
