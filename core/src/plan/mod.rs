//! The stack plan: a validated spec with every default applied, every profile resolved, every
//! dependency edge and secret known. Both renderers read only this, never the raw spec.
//!
//! [`plan`] is the only way to get a [`StackPlan`]; it reports every problem of the spec at
//! once, each with the path of the field and a fix. The parts, one reason each:
//!
//! - `names`: the stack, service, profile and image names; the registry mirror rewrite;
//! - `service`: what every service shares, and the choice between
//! - `catalog_service` (a catalog `type`) and `custom_service` (your own `image`);
//! - `resources`: requests, limits, GPUs, storage sizes;
//! - `health`: health checks with their ports resolved;
//! - `ports`: container and host ports, host ports unique in the stack;
//! - `node_ports`: the node port range and where host ports land in it;
//! - `graph`: `dependsOn` edges and cycles;
//! - `files`: the files mounted into a service, and their digest;
//! - `storage`: an image service's own data paths;
//! - `devloop`: `build`, `mounts` and `sync` of image services;
//! - `env`: env order, secrets tied to the env var that carries them, connection settings;
//! - `observability`: metrics endpoints, scrape edges, OTLP env, generated config files;
//! - `model`: the plan's types.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog;
use crate::error::{did_you_mean, ValidationErrors};
use crate::limits::MAX_SERVICES;
use crate::types::DevStack;

mod app;
mod catalog_service;
mod custom_service;
mod devloop;
mod env;
mod fanout;
mod files;
mod graph;
mod health;
mod keys;
mod model;
mod names;
mod node_ports;
pub mod observability;
mod order;
mod ports;
mod resources;
mod service;
mod shape;
mod storage;
mod text;

pub use devloop::{
    build_repository, normalize, BuildPlan, MountPlan, SyncPlan, ALWAYS_IGNORED, UNBUILT_TAG,
};
pub use files::{
    files_hash, sources as file_sources, FileOrigin, FileSources, PlannedFile, DEFAULT_FILE_MODE,
};
pub use model::{
    Argv, Dependency, EnvSource, EnvVar, HealthPlan, NamedPort, PortPlan, Probe, SecretDef,
    SecurityPlan, ServicePlan, StackPlan, VolumePlan, WaitFor, Workload,
};
pub use names::apply_registry;
pub use node_ports::{reserved as reserved_port, NodePortRange};

/// Options that are not part of the spec.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Replaces `spec.profiles` (the CLI's `--profile`).
    pub profiles: Option<Vec<String>>,
    /// Replaces the image of a catalog type (`postgres=registry.local/postgres:18.1`), for
    /// air-gapped machines and tests with locally built images. Commands and health checks stay.
    pub image_overrides: BTreeMap<String, String>,
    /// The node ports host ports may become in Kubernetes (the operator's and the CLI's
    /// `--node-port-range`; 30000-32767 by default).
    pub node_ports: NodePortRange,
    /// The bytes of the spec's `source` files, read by the CLI ([`file_sources`] lists them);
    /// `None` (the operator): a `source` is an error that asks for `content`.
    pub file_sources: Option<FileSources>,
    /// The directory of the stack file: `build`, `mounts` and `sync` paths are resolved
    /// against it (kept relative when `None`, as in the operator).
    pub base_dir: Option<std::path::PathBuf>,
    /// The content tag of each `build` service's image, by service (the CLI hashes the build
    /// context; see `devstack_docker::context`).
    pub build_tags: BTreeMap<String, String>,
}

/// Validates `stack` and resolves it into a plan. Reports every problem found, each with the
/// path of the field and a fix.
pub fn plan(stack: &DevStack, options: &PlanOptions) -> Result<StackPlan, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let spec = &stack.spec;
    let name = names::stack_name(stack, &mut errors);
    names::namespace(stack, &mut errors);
    names::registry(spec.image_registry.as_deref(), &mut errors);
    if !check_service_count(stack, &mut errors) {
        // Checking each of thousands of services (and suggesting names across them) would only
        // bury this error, and costs quadratic time.
        return Err(errors);
    }
    let active_profiles = active_profiles(stack, options, &mut errors);
    check_image_overrides(options, &mut errors);

    let expanded = fanout::expand(spec, &mut errors);
    let spec = &expanded.spec;
    let (mut services, secrets) =
        plan_services(&expanded, &name, &active_profiles, options, &mut errors);
    fanout::place_hosts(&mut services);

    let active: BTreeMap<String, bool> = services
        .iter()
        .map(|(name, s)| (name.clone(), s.active))
        .collect();
    graph::check(spec, &active, &mut errors);
    ports::check_unique(&services, &mut errors);
    node_ports::assign(&mut services, options.node_ports, &mut errors);
    if !errors.is_empty() {
        return Err(fanout::dedup(errors));
    }
    keys::check_unique(&services, &mut errors);
    keys::check_secret_size(&services, &secrets, &mut errors);
    if !errors.is_empty() {
        return Err(fanout::dedup(errors));
    }
    graph::record(spec, &mut services);
    env::wire_connections(&mut services, &mut errors);
    app::wire_connection_env(spec, &mut services, &mut errors);
    observability::wire(spec, &mut services, &mut errors);
    let observability = observability::plan(spec, &services, &mut errors);
    if !errors.is_empty() {
        return Err(fanout::dedup(errors));
    }
    let mut planned = StackPlan {
        name,
        namespace: stack.metadata.namespace.clone(),
        isolation: spec.isolation,
        active_profiles,
        services,
        secrets,
        observability,
        validated: model::Validated::new(),
    };
    observability::place_files(&mut planned, &mut errors);
    if !errors.is_empty() {
        return Err(fanout::dedup(errors));
    }
    Ok(planned)
}

/// At least one service and at most [`MAX_SERVICES`]; false when there are too many to go on.
fn check_service_count(stack: &DevStack, errors: &mut ValidationErrors) -> bool {
    let count = stack.spec.services.len();
    if count == 0 {
        errors.push(
            "spec.services",
            "must not be empty: add at least one service",
        );
    } else if count > MAX_SERVICES {
        errors.push(
            "spec.services",
            format!("{count} services: at most {MAX_SERVICES} per stack; split the stack"),
        );
        return false;
    }
    true
}

/// Each `--image-override` names a catalog type and a valid image reference.
fn check_image_overrides(options: &PlanOptions, errors: &mut ValidationErrors) {
    for (type_name, image) in &options.image_overrides {
        names::reference(image, "--image-override", errors);
        if catalog::lookup(type_name).is_none() {
            errors.push(
                "--image-override",
                format!(
                    "unknown catalog type {type_name:?}{}",
                    did_you_mean(type_name, catalog::type_names())
                ),
            );
        }
    }
}

/// Every service of the expanded spec planned on its own, and the secrets they own (the
/// replicas of a fan-out share their app secrets).
fn plan_services(
    expanded: &fanout::Expanded,
    stack: &str,
    active_profiles: &[String],
    options: &PlanOptions,
    errors: &mut ValidationErrors,
) -> (BTreeMap<String, ServicePlan>, Vec<model::SecretDef>) {
    let spec = &expanded.spec;
    let mut services = BTreeMap::new();
    let mut secrets: Vec<model::SecretDef> = Vec::new();
    for (service_name, service) in &spec.services {
        let path = format!("spec.services.{}", expanded.origin(service_name));
        names::service_name(service_name, &path, errors);
        let input = service::ServiceInput {
            stack,
            name: service_name,
            group: expanded.origin(service_name),
            spec: service,
            active: service.profiles.is_empty()
                || service.profiles.iter().any(|p| active_profiles.contains(p)),
            registry: spec.image_registry.as_deref(),
            options,
            path,
        };
        if let Some((planned, owned)) = service::plan(&input, errors) {
            services.insert(service_name.clone(), planned);
            for def in owned {
                if !secrets.iter().any(|s| s.id == def.id) {
                    secrets.push(def);
                }
            }
        }
    }
    (services, secrets)
}

/// The active profiles (`--profile` replaces `spec.profiles`), each checked to be one some
/// service has.
fn active_profiles(
    stack: &DevStack,
    options: &PlanOptions,
    errors: &mut ValidationErrors,
) -> Vec<String> {
    let spec = &stack.spec;
    let active = options
        .profiles
        .clone()
        .unwrap_or_else(|| spec.profiles.clone());
    let known: BTreeSet<&str> = spec
        .services
        .values()
        .flat_map(|s| s.profiles.iter().map(String::as_str))
        .collect();
    let field = if options.profiles.is_some() {
        "--profile"
    } else {
        "spec.profiles"
    };
    for (i, profile) in active.iter().enumerate() {
        if !known.contains(profile.as_str()) {
            errors.push(
                format!("{field}[{i}]"),
                format!(
                    "no service has profile {profile:?}{}; known profiles: {}",
                    did_you_mean(profile, known.iter().copied()),
                    names::list_or_none(known.iter().copied())
                ),
            );
        }
    }
    active
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::{manifest, stack_yaml};
    use crate::types::ServiceSpec;

    /// The DevStack `demo` whose `spec.services` is `services_yaml` (a mapping at column 0).
    fn stack_of(services_yaml: &str) -> DevStack {
        let services: String = services_yaml.lines().map(|l| format!("  {l}\n")).collect();
        stack_yaml(&manifest("demo", &format!("services:\n{services}")))
    }

    /// The plan of `stack_of(services_yaml)`, which must be valid.
    pub(crate) fn plan_of(services_yaml: &str) -> StackPlan {
        plan(&stack_of(services_yaml), &PlanOptions::default())
            .unwrap_or_else(|e| panic!("fixture does not plan: {e}"))
    }

    /// The errors of `stack_of(services_yaml)` (empty when it is valid).
    pub(crate) fn errors_of(services_yaml: &str) -> ValidationErrors {
        plan(&stack_of(services_yaml), &PlanOptions::default())
            .err()
            .unwrap_or_default()
    }

    /// One service spec from YAML flow text.
    pub(crate) fn service_spec(yaml: &str) -> ServiceSpec {
        stack_of(&format!("s: {yaml}\n")).spec.services["s"].clone()
    }

    #[test]
    fn profiles_select_services_and_unknown_ones_are_errors() {
        let services = "a: {image: a:1}\nb: {image: b:1, profiles: [extra]}\n";
        let plan = plan_of(services);
        assert!(plan.services["a"].active);
        assert!(!plan.services["b"].active);
        let options = PlanOptions {
            profiles: Some(vec!["extra".into(), "extar".into()]),
            ..PlanOptions::default()
        };
        let errors = super::plan(&stack_of(services), &options).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path, "--profile[1]");
        assert!(errors.0[0].message.contains("did you mean \"extra\""));
    }

    #[test]
    fn image_overrides_replace_catalog_images_and_name_known_types() {
        let stack = stack_of("db: {type: postgres}\n");
        let options = PlanOptions {
            image_overrides: [("postgres".to_string(), "local/pg:1".to_string())].into(),
            ..PlanOptions::default()
        };
        assert_eq!(
            super::plan(&stack, &options).unwrap().services["db"].image,
            "local/pg:1"
        );
        let options = PlanOptions {
            image_overrides: [("postgress".to_string(), "x".to_string())].into(),
            ..PlanOptions::default()
        };
        let errors = super::plan(&stack, &options).unwrap_err();
        assert_eq!(errors.0[0].path, "--image-override");
    }

    #[test]
    fn the_registry_mirror_applies_to_catalog_and_custom_images() {
        let mut stack = stack_of("db: {type: postgres}\napi: {image: ghcr.io/acme/api:1}\n");
        stack.spec.image_registry = Some("mirror.local".into());
        let plan = super::plan(&stack, &PlanOptions::default()).unwrap();
        assert!(plan.services["db"].image.starts_with("mirror.local/"));
        assert_eq!(plan.services["api"].image, "mirror.local/acme/api:1");
    }

    #[test]
    fn every_generated_secret_is_declared_once() {
        let plan = plan_of("db: {type: postgres}\ncache: {type: redis}\nweb: {image: w:1}\n");
        let ids: Vec<&str> = plan.secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["DEVSTACK_CACHE_PASSWORD", "DEVSTACK_DB_PASSWORD"]);
    }
}
