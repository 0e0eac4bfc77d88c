//! Connection settings: `dependsOn` gives a dependent its dependencies' connection values
//! (`QDRANT_URL`, `DB_HOST`, …). A Compose file often sets the same keys by hand
//! (`QDRANT_URL: http://qdrant:6333`); a stack may not set them twice, so the file's value gives
//! way to the connection value (same service, the stack's port and generated credentials),
//! reported per key.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::plan::{plan, PlanOptions};
use devstack_core::types::DevStack;

use crate::loss::LossReport;

/// Removes from each service's env the keys one of its dependencies provides; `compose` maps
/// DevStack names back to Compose names for the report.
pub fn yield_to_dependencies(
    stack: &mut DevStack,
    compose: &BTreeMap<String, String>,
    report: &mut LossReport,
) {
    // Connection keys do not depend on the user's env: plan a copy without any.
    let mut bare = stack.clone();
    for spec in bare.spec.services.values_mut() {
        spec.env.clear();
        spec.files.clear();
    }
    let Ok(planned) = plan(&bare, &PlanOptions::default()) else {
        return;
    };
    for (name, spec) in stack.spec.services.iter_mut() {
        let shown = compose.get(name).cloned().unwrap_or_else(|| name.clone());
        for dep in &spec.depends_on {
            let provided: BTreeSet<&String> = planned
                .services
                .get(dep)
                .map(|d| d.connection.keys().collect())
                .unwrap_or_default();
            for key in provided {
                if spec.env.remove(key).is_some() {
                    report.changed(
                        &shown,
                        &format!("environment.{key}"),
                        &format!("{key} comes from dependsOn {dep}: the connection value (the stack's host, port and credentials) replaces the file's"),
                        &format!("nothing to do; `devstack env --service {dep}` shows the value"),
                    );
                }
            }
        }
    }
}
