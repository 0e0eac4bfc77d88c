//! `devstack status`: per service, container state, health, host ports, image, uptime.

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::ops::StatusRow;
use devstack_docker::{Engine, Stack};

use crate::output::{self, Format};

/// Prints the status rows as a table or JSON.
pub async fn run(plan: &StackPlan, root: &std::path::Path, format: Format) -> Result<()> {
    let stack = Stack::open(plan, root)?;
    let engine = Engine::connect().await?;
    let rows = stack.status(&engine).await?;
    output::print_rows(format, &rows, table)
}

/// The status rows as a table.
pub fn table(rows: &[StatusRow]) -> String {
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
    output::table(
        [
            "SERVICE",
            "CONTAINER",
            "STATE",
            "HEALTH",
            "PORTS",
            "IMAGE",
            "STATUS",
        ],
        &cells,
    )
}
