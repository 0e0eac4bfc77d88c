//! `devstack catalog`: the catalog as a table or JSON.

use devstack_crds::catalog::{CatalogEntry, ENTRIES};
use devstack_crds::quantity::{format_bytes, format_cpu};
use serde::Serialize;

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
    let rows = rows();
    let header = [
        "TYPE", "IMAGE", "PORTS", "STATEFUL", "UID", "REQUESTS", "LIMITS",
    ];
    let cells: Vec<[String; 7]> = rows
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
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    let mut line = |cols: Vec<&str>| {
        let text: Vec<String> = cols
            .iter()
            .zip(widths.iter())
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
