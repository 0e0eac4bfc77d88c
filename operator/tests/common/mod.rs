//! Shared by the integration tests: the examples of the repository, planned.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use devstack_crds::parse::parse_devstack;
use devstack_crds::plan::{plan, PlanOptions, StackPlan};

/// `examples/` at the workspace root.
pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Every `examples/*.yaml` as (file stem, text), by name.
pub fn examples() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                stem,
                std::fs::read_to_string(&p).expect("example is readable"),
            )
        })
        .collect();
    out.sort();
    out
}

/// The plan of one example, or a message naming it.
pub fn plan_example(name: &str, text: &str) -> Result<StackPlan, String> {
    let stack = parse_devstack(text).map_err(|e| format!("{name}: parse: {e}"))?;
    plan(&stack, &PlanOptions::default()).map_err(|e| format!("{name}: plan:\n{e}"))
}

/// Fixed fake values for every secret of the plan: `fixture-<id>`.
pub fn fake_secrets(plan: &StackPlan) -> BTreeMap<String, String> {
    plan.secrets
        .iter()
        .map(|s| (s.id.to_string(), format!("fixture-{}", s.id)))
        .collect()
}
