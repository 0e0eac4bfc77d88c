//! Replicas, CPU, memory and GPUs as a Compose `deploy` section, in exact spellings that
//! Compose parses back to the same numbers ([`crate::spelling`]).

use devstack_core::conventions::GPU_DRIVER;
use devstack_core::plan::ServicePlan;

use crate::model::{Deploy, Device, Limits, Reservations, Resources};
use crate::spelling::{Cpus, Memory};

/// The `deploy` section: replicas (only when not 1), limits, reservations and GPU devices.
pub fn deploy(service: &ServicePlan) -> Deploy {
    let budget = &service.resources;
    let devices = if service.gpu > 0 {
        vec![Device {
            driver: GPU_DRIVER.to_string(),
            count: service.gpu,
            capabilities: vec!["gpu".to_string()],
        }]
    } else {
        Vec::new()
    };
    Deploy {
        replicas: (service.replicas() != 1).then_some(service.replicas()),
        resources: Resources {
            limits: Limits {
                cpus: Cpus(budget.limit_cpu_millis),
                memory: Memory(budget.limit_memory_bytes),
            },
            reservations: Reservations {
                cpus: Cpus(budget.request_cpu_millis),
                memory: Memory(budget.request_memory_bytes),
                devices,
            },
        },
    }
}
