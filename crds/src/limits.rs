//! The bounds of a DevStack, spelled once. The CRD schema ([`crate::types`]) and validation
//! (`devstack_core::plan::plan`) both read these constants, so `kubectl apply` and `devstack validate`
//! accept exactly the same specs; the input and output caps keep every object storable.

/// Services in one stack (`spec.services`: `maxProperties`).
pub const MAX_SERVICES: usize = 64;
/// Published ports of one catalog service (`hostPorts`: `maxProperties`).
pub const MAX_HOST_PORTS: usize = 16;
/// Ports of one custom service (`ports`: `maxItems`).
pub const MAX_PORTS: usize = 32;
/// Replicas of one stateless service (`replicas`: `maximum`).
pub const MAX_REPLICAS: i32 = 100;
/// Entries of one service's `connectionEnv` (`maxProperties`).
pub const MAX_CONNECTION_ENV: usize = 64;
/// Files of one service (`files`: `maxProperties`).
pub const MAX_FILES: usize = 64;
/// Data paths of one image service (`storage.volumes`: `maxItems`).
pub const MAX_VOLUMES: usize = 16;
/// Bytes of one service's files together: they share one ConfigMap, which the API server
/// caps at 1 MiB (the rest is left for keys and metadata).
pub const MAX_FILES_BYTES: usize = (1 << 20) - (16 << 10);
/// GPUs of one service (`gpu`: `maximum`).
pub const MAX_GPU: i32 = 16;
/// Health check interval, timeout and start period in seconds (`maximum`).
pub const MAX_SECONDS: i32 = 3600;
/// Health check retries (`retries`: `maximum`).
pub const MAX_RETRIES: i32 = 100;
/// Size of a stack file the CLI reads (1 MiB: larger than any real stack, and about what the
/// API server stores as one object).
pub const MAX_INPUT_BYTES: usize = 1 << 20;
/// Size of a rendered Secret's data (the API server refuses Secrets over 1 MiB).
pub const MAX_SECRET_BYTES: usize = 1 << 20;
/// CPU of one service in millicores: Docker's `NanoCpus` (an int64 of 10⁻⁹ CPUs) must hold it.
pub const MAX_CPU_MILLIS: u64 = (i64::MAX / 1_000_000) as u64;
