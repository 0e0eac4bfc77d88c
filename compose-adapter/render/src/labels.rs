//! Labels on what the Compose project creates: every service, volume and network carries the
//! stack; services and volumes carry their service; volumes also say their requested size
//! (Docker cannot enforce it; parity compares it) and whether they survive deleting the stack.

use std::collections::BTreeMap;

use devstack_core::conventions::{
    ANNOTATION_FILES_HASH, LABEL_SERVICE, LABEL_SIZE, LABEL_STACK, RETAIN_ON_DELETE,
};
use devstack_core::plan::{ServicePlan, VolumePlan};
use devstack_core::quantity::format_bytes;
use devstack_core::StackPlan;

/// Labels of a network.
pub fn stack(plan: &StackPlan) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_STACK.to_string(), plan.name.clone())])
}

/// Labels of a service's container.
pub fn service(plan: &StackPlan, service: &ServicePlan) -> BTreeMap<String, String> {
    let mut labels = stack(plan);
    labels.insert(LABEL_SERVICE.to_string(), service.name.clone());
    if let Some(hash) = service.files_hash() {
        // In the service's config hash: a changed file recreates the container.
        labels.insert(ANNOTATION_FILES_HASH.to_string(), hash);
    }
    labels
}

/// Labels of one of a service's named volumes.
pub fn volume(
    plan: &StackPlan,
    owner: &ServicePlan,
    volume: &VolumePlan,
) -> BTreeMap<String, String> {
    // Not the service's labels: the files' digest must not touch the volume.
    let mut labels = stack(plan);
    labels.insert(LABEL_SERVICE.to_string(), owner.name.clone());
    labels.insert(LABEL_SIZE.to_string(), format_bytes(volume.size_bytes));
    labels.insert(
        RETAIN_ON_DELETE.to_string(),
        owner.retains_data().to_string(),
    );
    labels
}
