//! Requests, limits, GPUs and storage sizes: the catalog's preset (or the custom default)
//! with the user's quantities applied.

use crate::catalog::{Budget, CatalogEntry};
use crate::error::ValidationErrors;
use crate::limits::{MAX_CPU_MILLIS, MAX_GPU};
use crate::quantity;
use crate::types::ServiceSpec;

/// Budget of a custom image without `resources`.
pub(super) const DEFAULT_CUSTOM_BUDGET: Budget = Budget {
    request_cpu_millis: 100,
    request_memory_bytes: 128 << 20,
    limit_cpu_millis: 1000,
    limit_memory_bytes: 512 << 20,
};

/// Volume size without `storage.size`.
pub(super) const DEFAULT_STORAGE_BYTES: u64 = 1 << 30;

/// Docker refuses smaller memory limits.
const MIN_MEMORY_BYTES: u64 = 6 << 20;

/// The service's requests and limits: the default budget with the user's values applied. A
/// request above the default limit raises the limit with it, unless a limit was given.
pub(super) fn budget(
    service: &ServiceSpec,
    entry: Option<&CatalogEntry>,
    path: &str,
    errors: &mut ValidationErrors,
) -> Budget {
    let mut budget = entry
        .map(|e| e.size.budget())
        .unwrap_or(DEFAULT_CUSTOM_BUDGET);
    let Some(resources) = &service.resources else {
        return budget;
    };
    let field = |kind: &str, resource: &str| format!("{path}.resources.{kind}.{resource}");
    // CPU before memory, requests before limits: the order its errors have always come in.
    if let Some(r) = &resources.requests {
        set_cpu(
            &r.cpu,
            &field("requests", "cpu"),
            &mut budget.request_cpu_millis,
            errors,
        );
    }
    if let Some(l) = &resources.limits {
        set_cpu(
            &l.cpu,
            &field("limits", "cpu"),
            &mut budget.limit_cpu_millis,
            errors,
        );
    }
    if let Some(r) = &resources.requests {
        set_memory(
            &r.memory,
            &field("requests", "memory"),
            &mut budget.request_memory_bytes,
            errors,
        );
    }
    if let Some(l) = &resources.limits {
        set_memory(
            &l.memory,
            &field("limits", "memory"),
            &mut budget.limit_memory_bytes,
            errors,
        );
    }
    let limits = resources.limits.as_ref();
    if budget.request_cpu_millis > budget.limit_cpu_millis {
        if limits.and_then(|l| l.cpu.as_ref()).is_some() {
            errors.push(
                field("requests", "cpu"),
                format!(
                    "request {} is above the limit {}; lower the request or raise the limit",
                    quantity::format_cpu(budget.request_cpu_millis),
                    quantity::format_cpu(budget.limit_cpu_millis)
                ),
            );
        } else {
            budget.limit_cpu_millis = budget.request_cpu_millis;
        }
    }
    if budget.request_memory_bytes > budget.limit_memory_bytes {
        if limits.and_then(|l| l.memory.as_ref()).is_some() {
            errors.push(
                field("requests", "memory"),
                format!(
                    "request {} is above the limit {}; lower the request or raise the limit",
                    quantity::format_bytes(budget.request_memory_bytes),
                    quantity::format_bytes(budget.limit_memory_bytes)
                ),
            );
        } else {
            budget.limit_memory_bytes = budget.request_memory_bytes;
        }
    }
    budget
}

/// `slot` set to the CPU quantity `text` (at `field`) when given and within bounds.
fn set_cpu(text: &Option<String>, field: &str, slot: &mut u64, errors: &mut ValidationErrors) {
    let Some(text) = text else {
        return;
    };
    match quantity::cpu_millis(text) {
        Ok(v) if v > MAX_CPU_MILLIS => errors.push(
            field,
            format!(
                "{text} is above the maximum of {} CPUs",
                MAX_CPU_MILLIS / 1000
            ),
        ),
        Ok(v) if v > 0 => *slot = v,
        Ok(_) => errors.push(field, "must be greater than 0"),
        Err(e) => errors.push(field, e.to_string()),
    }
}

/// `slot` set to the memory quantity `text` (at `field`) when given and at least Docker's
/// minimum.
fn set_memory(text: &Option<String>, field: &str, slot: &mut u64, errors: &mut ValidationErrors) {
    let Some(text) = text else {
        return;
    };
    match quantity::bytes(text) {
        Ok(v) if v >= MIN_MEMORY_BYTES => *slot = v,
        Ok(_) => errors.push(field, "must be at least 6Mi (Docker's minimum)"),
        Err(e) => errors.push(field, e.to_string()),
    }
}

/// The GPU count (0 without `gpu`).
pub(super) fn gpu(service: &ServiceSpec, path: &str, errors: &mut ValidationErrors) -> u32 {
    match service.gpu {
        Some(n) if n < 0 => {
            errors.push(
                format!("{path}.gpu"),
                format!("{n} is negative; use 0 or more"),
            );
            0
        }
        Some(n) if n > MAX_GPU => {
            errors.push(
                format!("{path}.gpu"),
                format!("{n} is above the maximum of {MAX_GPU} GPUs"),
            );
            0
        }
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        None => 0,
    }
}

/// The volume size of a stateful service (`storage.size`, 1Gi by default).
pub(super) fn storage_bytes(
    service: &ServiceSpec,
    path: &str,
    errors: &mut ValidationErrors,
) -> u64 {
    let Some(text) = service.storage.as_ref().and_then(|s| s.size.as_ref()) else {
        return DEFAULT_STORAGE_BYTES;
    };
    match quantity::bytes(text) {
        Ok(v) if v > 0 => v,
        Ok(_) => {
            errors.push(format!("{path}.storage.size"), "must be greater than 0");
            DEFAULT_STORAGE_BYTES
        }
        Err(e) => {
            errors.push(format!("{path}.storage.size"), e.to_string());
            DEFAULT_STORAGE_BYTES
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::service_spec;

    #[test]
    fn a_request_above_the_default_limit_raises_it() {
        let spec = service_spec("{image: a:1, resources: {requests: {cpu: '2', memory: 1Gi}}}");
        let mut errors = ValidationErrors::default();
        let b = budget(&spec, None, "s", &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!((b.request_cpu_millis, b.limit_cpu_millis), (2000, 2000));
        assert_eq!(b.limit_memory_bytes, 1 << 30);
    }

    #[test]
    fn a_request_above_a_given_limit_is_an_error() {
        let spec = service_spec(
            "{image: a:1, resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi, cpu: 0m}}}",
        );
        let mut errors = ValidationErrors::default();
        budget(&spec, None, "s", &mut errors);
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["s.resources.limits.cpu", "s.resources.requests.memory"]
        );
    }

    #[test]
    fn gpu_and_storage_defaults_and_errors() {
        let mut errors = ValidationErrors::default();
        assert_eq!(gpu(&service_spec("{image: a:1}"), "s", &mut errors), 0);
        assert_eq!(
            gpu(&service_spec("{image: a:1, gpu: 2}"), "s", &mut errors),
            2
        );
        assert_eq!(
            storage_bytes(&service_spec("{type: postgres}"), "s", &mut errors),
            DEFAULT_STORAGE_BYTES
        );
        assert_eq!(
            storage_bytes(
                &service_spec("{type: postgres, storage: {size: 5Gi}}"),
                "s",
                &mut errors
            ),
            5 << 30
        );
        assert!(errors.is_empty());
        gpu(&service_spec("{image: a:1, gpu: -1}"), "s", &mut errors);
        storage_bytes(
            &service_spec("{type: postgres, storage: {size: 0}}"),
            "s",
            &mut errors,
        );
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["s.gpu", "s.storage.size"]);
    }
}
