//! What planning one service reads ([`ServiceInput`]) and what its kind, a catalog type or a
//! custom image, decides ([`Shape`]): the types `service` hands to `catalog_service` and
//! `custom_service` and gets back from them, kept apart so those modules do not import the one
//! that calls them.

use std::collections::BTreeMap;

use super::files::PlannedFile;
use super::model::{HealthPlan, PortPlan, SecretDef, SecurityPlan, Workload};
use super::PlanOptions;
use crate::catalog::EnvValue;
use crate::error::ValidationErrors;
use crate::limits::MAX_REPLICAS;
use crate::template::Template;
use crate::types::ServiceSpec;

/// Everything planning one service reads.
pub(super) struct ServiceInput<'a> {
    /// Stack name.
    pub stack: &'a str,
    /// Service name.
    pub name: &'a str,
    /// The name in the user's spec (differs for the replicas of a fan-out): app secrets
    /// belong to it.
    pub group: &'a str,
    /// Its spec.
    pub spec: &'a ServiceSpec,
    /// Whether it runs under the active profiles.
    pub active: bool,
    /// `spec.imageRegistry`.
    pub registry: Option<&'a str>,
    /// Options from outside the spec.
    pub options: &'a PlanOptions,
    /// Path of the service in the spec (`spec.services.<name>`).
    pub path: String,
}

/// What the kind of a service (catalog type or custom image) decides.
pub(super) struct Shape {
    pub type_name: Option<String>,
    pub image: String,
    pub workload: Workload,
    /// Default entrypoint / arguments (the spec's `command` / `args` replace them).
    pub command: Option<Vec<Template>>,
    pub args: Option<Vec<Template>>,
    pub env: BTreeMap<String, EnvValue>,
    pub ports: Vec<PortPlan>,
    pub health: Option<HealthPlan>,
    pub writable_paths: Vec<String>,
    pub security: SecurityPlan,
    pub connection: BTreeMap<String, Template>,
    pub secrets: Vec<SecretDef>,
    /// Files the kind places (a catalog entry's init SQL); the spec's files come after.
    pub files: Vec<PlannedFile>,
}

/// The replica count the spec asks for (1 by default); negative counts are errors.
pub(super) fn replicas(spec: &ServiceSpec, path: &str, errors: &mut ValidationErrors) -> u32 {
    match spec.replicas {
        Some(n) if n < 0 => {
            errors.push(format!("{path}.replicas"), "must not be negative");
            1
        }
        Some(n) if n > MAX_REPLICAS => {
            errors.push(
                format!("{path}.replicas"),
                format!("{n} is above the maximum of {MAX_REPLICAS} replicas"),
            );
            1
        }
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        None => 1,
    }
}
