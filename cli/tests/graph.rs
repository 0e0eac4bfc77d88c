//! `devstack render graph`: the DOT picture of an example names its scrape edges.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::process::Command;

use devstack_core::test_support as fixtures;

#[test]
fn render_graph_prints_dependency_and_scrape_edges() {
    let out = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(["render", "graph", "examples/ktrdr.yaml"])
        .current_dir(fixtures::workspace())
        .output()
        .expect("run devstack");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8(out.stdout).expect("utf-8");
    assert!(dot.starts_with("digraph \"ktrdr\" {"));
    assert!(dot.contains("\"backend\" -> \"jaeger\" [label=\"OTLP\"];"));
    assert!(dot.contains(
        "\"prometheus\" -> \"backend\" [style=dashed, color=\"#c0392b\", label=\"scrape :8000\"];"
    ));
    assert!(dot.trim_end().ends_with('}'));
}
