//! The cluster's GPU choice, made from a given node list: whether some node offers
//! `nvidia.com/gpu` to the stack's GPU services. The operator lists the nodes and renders
//! with [`RenderOptions::from_nodes`](crate::RenderOptions::from_nodes); `devstack parity
//! --live --runtime kubernetes` does the same to compare with what the operator applied.

use devstack_core::conventions::GPU_RESOURCE;
use devstack_core::plan::StackPlan;
use k8s_openapi::api::core::v1::Node;

/// Whether the choice depends on the nodes at all: some active service wants GPUs that are
/// not required. When not, callers need not list the nodes ([`gpu_offered`] is `true` for
/// any list).
pub fn needs_nodes(plan: &StackPlan) -> bool {
    plan.active_services().any(|s| s.gpu > 0 && !s.gpu_required)
}

/// Whether some node of `nodes` offers `nvidia.com/gpu` to the stack's GPU services: the
/// choice between the plain rendering and the CPU fallback (`RenderOptions::gpu_fallback`).
/// Always `true` when the plan does not depend on it ([`needs_nodes`]).
pub fn gpu_offered(plan: &StackPlan, nodes: &[Node]) -> bool {
    if !needs_nodes(plan) {
        return true;
    }
    nodes.iter().any(|node| {
        node.status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(GPU_RESOURCE))
            .is_some_and(|q| q.0.trim() != "0")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use devstack_core::test_support::plan_spec;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    fn node(gpus: Option<&str>) -> Node {
        let allocatable: BTreeMap<String, Quantity> = gpus
            .map(|n| (GPU_RESOURCE.to_string(), Quantity(n.to_string())))
            .into_iter()
            .collect();
        Node {
            status: Some(NodeStatus {
                allocatable: Some(allocatable),
                ..NodeStatus::default()
            }),
            ..Node::default()
        }
    }

    const GPU_STACK: &str = "services:\n  llm: {type: ollama, gpu: 1}\n";

    #[test]
    fn a_node_with_gpus_offers_them() {
        let plan = plan_spec(GPU_STACK);
        assert!(needs_nodes(&plan));
        assert!(gpu_offered(&plan, &[node(None), node(Some("2"))]));
        assert!(!gpu_offered(&plan, &[node(None), node(Some("0"))]));
        assert!(!gpu_offered(&plan, &[]));
    }

    #[test]
    fn a_stack_without_optional_gpus_does_not_ask() {
        let plan = plan_spec("services:\n  cache: {type: redis}\n");
        assert!(!needs_nodes(&plan));
        assert!(gpu_offered(&plan, &[]));
        let required = plan_spec("services:\n  llm: {type: ollama, gpu: 1, gpuRequired: true}\n");
        assert!(!needs_nodes(&required));
    }
}
