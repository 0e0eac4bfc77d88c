//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use devstack_crds::parse::parse_devstack;
use devstack_crds::plan::{plan, PlanOptions};
use devstack_crds::StackPlan;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compose-adapter lives in the workspace")
        .to_path_buf()
}

/// Plans a DevStack given as YAML, panicking with the validation errors.
pub fn plan_yaml(yaml: &str) -> StackPlan {
    let stack = parse_devstack(yaml).unwrap_or_else(|e| panic!("parse: {e}"));
    plan(&stack, &PlanOptions::default()).unwrap_or_else(|e| panic!("plan: {e}"))
}

/// Fake values for every secret of `plan`.
pub fn fake_secrets(plan: &StackPlan) -> BTreeMap<String, String> {
    devstack_compose::required_secret_ids(plan)
        .into_iter()
        .map(|id| {
            let value = format!("fake{}", id.replace('_', "").to_lowercase());
            (id, value)
        })
        .collect()
}

/// Every example stack: (file stem, YAML text), sorted by name.
pub fn examples() -> Vec<(String, String)> {
    let dir = workspace().join("examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let stem = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("read example");
            (stem, text)
        })
        .collect();
    out.sort();
    out
}

/// Plans an example; `Err` carries a readable reason.
pub fn plan_example(name: &str, yaml: &str) -> Result<StackPlan, String> {
    let stack = parse_devstack(yaml).map_err(|e| format!("{name}: parse: {e}"))?;
    plan(&stack, &PlanOptions::default()).map_err(|e| format!("{name}: plan: {e}"))
}
