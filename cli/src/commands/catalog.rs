//! `devstack catalog`: the catalog as a table or JSON.

use anyhow::Result;
use devstack_core::catalog::{CatalogEntry, ENTRIES};
use devstack_core::quantity::{format_bytes, format_cpu};
use serde::Serialize;

use crate::output::{self, Format};

/// One row of the listing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogRow {
    /// Type name.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// Pinned image.
    pub image: String,
    /// Named ports, `name:port`.
    pub ports: Vec<String>,
    /// Keeps data.
    pub stateful: bool,
    /// UID.
    pub uid: i64,
    /// Default requests, `cpu/memory`.
    pub requests: String,
    /// Default limits, `cpu/memory`.
    pub limits: String,
    /// One line.
    pub description: &'static str,
}

fn row(entry: &CatalogEntry) -> CatalogRow {
    let budget = entry.size.budget();
    CatalogRow {
        type_name: entry.type_name,
        image: entry.image(entry.default_version),
        ports: entry
            .ports
            .iter()
            .map(|p| format!("{}:{}", p.name, p.port))
            .collect(),
        stateful: entry.stateful,
        uid: entry.uid,
        requests: format!(
            "{}/{}",
            format_cpu(budget.request_cpu_millis),
            format_bytes(budget.request_memory_bytes)
        ),
        limits: format!(
            "{}/{}",
            format_cpu(budget.limit_cpu_millis),
            format_bytes(budget.limit_memory_bytes)
        ),
        description: entry.description,
    }
}

/// Every catalog type.
pub fn rows() -> Vec<CatalogRow> {
    ENTRIES.iter().map(row).collect()
}

/// An aligned text table.
pub fn table() -> String {
    let cells: Vec<[String; 7]> = rows()
        .iter()
        .map(|r| {
            [
                r.type_name.to_string(),
                r.image.clone(),
                r.ports.join(","),
                if r.stateful { "yes" } else { "no" }.to_string(),
                r.uid.to_string(),
                r.requests.clone(),
                r.limits.clone(),
            ]
        })
        .collect();
    output::table(
        [
            "TYPE", "IMAGE", "PORTS", "STATEFUL", "UID", "REQUESTS", "LIMITS",
        ],
        &cells,
    )
}

/// `devstack catalog`: the table or JSON.
pub fn run(format: Format) -> Result<()> {
    match format {
        Format::Table => output::print(&table()),
        Format::Json => output::print_json(&rows()),
    }
}
