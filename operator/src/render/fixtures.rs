//! Test plans: a `spec` fragment in YAML, planned like the CLI and the operator plan it.

use std::collections::BTreeMap;

use devstack_crds::parse::parse_devstack;
use devstack_crds::plan::{plan, PlanOptions, StackPlan};

/// The plan of stack `demo` whose `spec` is `spec_yaml` (a YAML mapping at column 0).
pub(crate) fn plan_of(spec_yaml: &str) -> StackPlan {
    let spec: String = spec_yaml
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect();
    let text = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: demo}}\nspec:\n{spec}"
    );
    let stack =
        parse_devstack(&text).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{text}"));
    plan(&stack, &PlanOptions::default())
        .unwrap_or_else(|e| panic!("fixture does not plan: {e}\n{text}"))
}

/// A fake value for every secret of the plan: `fixture-<id>`.
pub(crate) fn fake_secrets(plan: &StackPlan) -> BTreeMap<String, String> {
    plan.secrets
        .iter()
        .map(|s| (s.id.to_string(), format!("fixture-{}", s.id)))
        .collect()
}
