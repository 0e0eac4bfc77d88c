//! Workloads held back: not created yet because a dependency is not Ready. While a stack
//! progresses (its last pass of this generation applied it and waits for services), such a
//! workload is not read by name at the start of every reconcile (it was, ≈ 17 GETs per
//! 5-service stack over its rollout); it is read just before it is created
//! ([`super::observe::read_one`]), so a same-named object of someone else's is still never
//! written. The first pass of a generation, and a stack in conflict, read every rendered name
//! (the `Conflict` status names every foreign object at once).

use std::collections::BTreeSet;

use devstack_core::plan::StackPlan;
use devstack_core::types::DevStack;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};

use super::observe::Observed;
use super::status;

/// The active services whose workload is absent and waits for a dependency that is not Ready
/// (as listed), when `stack` is progressing at its current generation; else none.
pub(crate) fn held_back(
    stack: &DevStack,
    plan: &StackPlan,
    observed: &Observed,
) -> BTreeSet<String> {
    if !progressing(stack) {
        return BTreeSet::new();
    }
    let exists = |name: &str| {
        observed.get::<Deployment>(name).is_some() || observed.get::<StatefulSet>(name).is_some()
    };
    let ready = |name: &str| {
        observed
            .get::<Deployment>(name)
            .is_some_and(status::deployment_ready)
            || observed
                .get::<StatefulSet>(name)
                .is_some_and(status::statefulset_ready)
    };
    plan.active_services()
        .filter(|s| !exists(&s.name) && s.depends_on.iter().any(|d| !ready(&d.service)))
        .map(|s| s.name.clone())
        .collect()
}

/// Whether the last pass of this generation applied the stack and it waits for services.
pub(crate) fn progressing(stack: &DevStack) -> bool {
    let Some(status) = &stack.status else {
        return false;
    };
    status.conditions.iter().any(|c| {
        c.type_ == "Reconciling"
            && c.status == "True"
            && c.reason == "ServicesNotReady"
            && c.observed_generation == stack.metadata.generation
    })
}
