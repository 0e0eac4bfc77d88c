//! Fixtures every crate's tests share (feature `test-support`, for dev-dependencies only): the
//! DevStack manifest header, planning YAML the way the CLI and the operator do, the
//! repository's examples, and fixed fake secret values. These helpers panic on a broken
//! fixture, naming it: a test with a broken fixture should fail loudly.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::parse::parse_devstack;
use crate::plan::{plan, PlanOptions, StackPlan};
use crate::types::DevStack;

/// The workspace root (the repository).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{} has no parent", env!("CARGO_MANIFEST_DIR")))
}

/// A DevStack manifest named `name` whose `spec` is `spec_yaml` (a YAML mapping written at
/// column 0; blank lines are dropped).
pub fn manifest(name: &str, spec_yaml: &str) -> String {
    let spec: String = spec_yaml
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect();
    format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n{spec}"
    )
}

/// The DevStack in `yaml` (a whole manifest).
pub fn stack_yaml(yaml: &str) -> DevStack {
    parse_devstack(yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{yaml}"))
}

/// The plan of the manifest `yaml`, with default options.
pub fn plan_yaml(yaml: &str) -> StackPlan {
    plan(&stack_yaml(yaml), &PlanOptions::default())
        .unwrap_or_else(|e| panic!("fixture does not plan: {e}\n{yaml}"))
}

/// The plan of stack `demo` whose `spec` is `spec_yaml` (see [`manifest`]).
pub fn plan_spec(spec_yaml: &str) -> StackPlan {
    plan_yaml(&manifest("demo", spec_yaml))
}

/// `examples/` at the workspace root.
pub fn examples_dir() -> PathBuf {
    workspace().join("examples")
}

/// Every `examples/*.yaml` as (file stem, text), sorted by name.
pub fn examples() -> Vec<(String, String)> {
    let dir = examples_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut out: Vec<(String, String)> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (stem, text)
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 6,
        "expected one example per seed plus minimal in {}, found {}",
        dir.display(),
        out.len()
    );
    out
}

/// The plan of one example, or a message naming it and every problem.
pub fn plan_example(name: &str, yaml: &str) -> Result<StackPlan, String> {
    let stack = parse_devstack(yaml).map_err(|e| format!("{name}: parse: {e}"))?;
    plan(&stack, &PlanOptions::default()).map_err(|e| format!("{name}: plan:\n{e}"))
}

/// Fixed fake values for every secret of the plan: `fixture-<id>` (the golden files hold them).
pub fn fake_secrets(plan: &StackPlan) -> BTreeMap<String, String> {
    plan.secrets
        .iter()
        .map(|s| (s.id.to_string(), format!("fixture-{}", s.id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_plan_and_find_the_examples() {
        let plan = plan_spec("services:\n  db: {type: postgres}\n");
        assert_eq!(plan.name, "demo");
        assert_eq!(
            fake_secrets(&plan)["DEVSTACK_DB_PASSWORD"],
            "fixture-DEVSTACK_DB_PASSWORD"
        );
        for (name, yaml) in examples() {
            plan_example(&name, &yaml).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
