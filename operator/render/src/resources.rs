//! Requests and limits of a container: the plan's budget in Kubernetes quantities, GPUs as
//! the NVIDIA device plugin's extended resource (a limit only, as Kubernetes requires).

use std::collections::BTreeMap;

use devstack_core::conventions::GPU_RESOURCE;
use devstack_core::plan::ServicePlan;
use devstack_core::quantity::{format_bytes, format_cpu};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::RenderOptions;

/// The requests and limits of `service`'s container.
pub(crate) fn requirements(service: &ServicePlan, options: RenderOptions) -> ResourceRequirements {
    let budget = &service.resources;
    let q = |s: String| Quantity(s);
    let requests: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), q(format_cpu(budget.request_cpu_millis))),
        (
            "memory".to_string(),
            q(format_bytes(budget.request_memory_bytes)),
        ),
    ]
    .into();
    let mut limits: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), q(format_cpu(budget.limit_cpu_millis))),
        (
            "memory".to_string(),
            q(format_bytes(budget.limit_memory_bytes)),
        ),
    ]
    .into();
    if service.gpu > 0 && !options.falls_back_to_cpu(service) {
        limits.insert(GPU_RESOURCE.to_string(), q(service.gpu.to_string()));
    }
    ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        ..ResourceRequirements::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn gpu_falls_back_to_cpu_unless_required() {
        let plan = plan_spec(
            "services:\n  ml: {image: 'acme/ml:1', gpu: 1}\n  must: {image: 'acme/ml:1', gpu: 2, gpuRequired: true}\n",
        );
        let fallback = RenderOptions { gpu_fallback: true };
        let gpu = |name: &str, options| {
            requirements(&plan.services[name], options)
                .limits
                .and_then(|l| l.get(GPU_RESOURCE).map(|q| q.0.clone()))
        };
        assert_eq!(gpu("ml", fallback), None);
        assert_eq!(gpu("must", fallback).as_deref(), Some("2"));
        assert_eq!(gpu("ml", RenderOptions::default()).as_deref(), Some("1"));
    }

    #[test]
    fn requests_limits_and_gpu() {
        let plan = plan_spec(
            "services:\n  ml:\n    image: acme/ml:1\n    gpu: 2\n    resources: {requests: {cpu: 1500m, memory: 1Gi}, limits: {cpu: '2', memory: 2Gi}}\n  web: {image: nginx:1}\n",
        );
        let r = requirements(&plan.services["ml"], RenderOptions::default());
        let requests = r.requests.unwrap();
        let limits = r.limits.unwrap();
        assert_eq!(requests["cpu"].0, "1500m");
        assert_eq!(requests["memory"].0, "1Gi");
        assert_eq!(limits["cpu"].0, "2");
        assert_eq!(limits["memory"].0, "2Gi");
        assert_eq!(limits[GPU_RESOURCE].0, "2");
        assert!(!requests.contains_key(GPU_RESOURCE));

        let limits = requirements(&plan.services["web"], RenderOptions::default())
            .limits
            .unwrap();
        assert!(!limits.contains_key(GPU_RESOURCE));
    }
}
