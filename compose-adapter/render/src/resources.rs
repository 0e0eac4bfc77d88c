//! Replicas, CPU, memory and GPUs as a Compose `deploy` section, in exact spellings that
//! Compose parses back to the same numbers.

use devstack_crds::conventions::GPU_DRIVER;
use devstack_crds::plan::ServicePlan;

use crate::model::{Deploy, Device, Limits, Reservations, Resources};

/// Millicores as a decimal CPU count: 250 → `0.25`, 1000 → `1`, 1500 → `1.5`.
pub fn cpus(millis: u64) -> String {
    let whole = millis / 1000;
    let frac = millis % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Bytes in Docker's binary units (`256m` = 256 MiB, `1g` = 1 GiB), using the largest unit
/// that divides exactly; a plain byte count otherwise. Docker (go-units `RAMInBytes`) reads
/// `k`/`m`/`g` as powers of 1024, so the value is exact. Kubernetes-style `Mi` is rejected by
/// Compose, hence the lower-case single letters.
pub fn memory(bytes: u64) -> String {
    let (count, power) = devstack_crds::quantity::binary_unit(bytes);
    format!("{count}{}", ["", "k", "m", "g", "t"][power])
}

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
                cpus: cpus(budget.limit_cpu_millis),
                memory: memory(budget.limit_memory_bytes),
            },
            reservations: Reservations {
                cpus: cpus(budget.request_cpu_millis),
                memory: memory(budget.request_memory_bytes),
                devices,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_spellings() {
        assert_eq!(cpus(250), "0.25");
        assert_eq!(cpus(1000), "1");
        assert_eq!(cpus(1500), "1.5");
        assert_eq!(cpus(100), "0.1");
        assert_eq!(cpus(1), "0.001");
        assert_eq!(cpus(2050), "2.05");
    }

    #[test]
    fn memory_spellings() {
        assert_eq!(memory(256 << 20), "256m");
        assert_eq!(memory(1 << 30), "1g");
        assert_eq!(memory(1536 << 20), "1536m");
        assert_eq!(memory(3 << 10), "3k");
        assert_eq!(memory(1_000_000_000), "1000000000");
        assert_eq!(memory(0), "0");
    }
}
