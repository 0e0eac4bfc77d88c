//! The reachability graph of a plan as Graphviz DOT (`devstack graph`; the picture in
//! docs/observability.md): every active service, its `dependsOn` edges (solid, labelled with
//! what flows: OTLP to a tracing sink, Grafana's queries) and the scrape edges (dashed,
//! labelled with the metrics port).

use std::fmt::Write as _;

use super::{is_type, prometheus::quoted, TRACING_SINKS};
use crate::plan::StackPlan;

/// The graph of `plan` in DOT.
pub fn graph_dot(plan: &StackPlan) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
        quoted(&plan.name)
    );
    for s in plan.active_services() {
        let kind = s.type_name.clone().unwrap_or_else(|| s.image.clone());
        let _ = writeln!(
            out,
            "  {} [label={}];",
            quoted(&s.name),
            quoted(&format!("{}\n{kind}", s.name))
        );
    }
    for s in plan.active_services() {
        for dep in s.dependency_names().filter_map(|d| plan.services.get(d)) {
            if !dep.active {
                continue;
            }
            let label = if is_type(s, "grafana") {
                "query"
            } else if TRACING_SINKS.iter().any(|t| is_type(dep, t)) {
                "OTLP"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quoted(&s.name),
                quoted(&dep.name),
                quoted(label)
            );
        }
    }
    for e in &plan.observability.scrapes {
        let _ = writeln!(
            out,
            "  {} -> {} [style=dashed, color=\"#c0392b\", label={}];",
            quoted(&e.scraper),
            quoted(&e.target),
            quoted(&format!("scrape :{}", e.port))
        );
    }
    out.push_str("}\n");
    out
}
