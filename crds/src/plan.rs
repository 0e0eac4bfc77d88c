//! The stack plan: a validated spec with every default applied, every profile resolved, every
//! dependency edge and secret known. Both renderers read only this, never the raw spec.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{
    self, upper_snake, Budget, CatalogEntry, Check, DataPath, EntryContext, EntryParts, EnvValue,
    Health,
};
use crate::error::{did_you_mean, ValidationErrors};
use crate::quantity;
use crate::template::Template;
use crate::types::{DevStack, Isolation, ServiceSpec};

/// Options that are not part of the spec.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Replaces `spec.profiles` (the CLI's `--profile`).
    pub profiles: Option<Vec<String>>,
    /// Replaces the image of a catalog type (`postgres=registry.local/postgres:18.1`), for
    /// air-gapped machines and tests with locally built images. Commands and health checks stay.
    pub image_overrides: BTreeMap<String, String>,
}

/// A generated secret of the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretDef {
    /// Stack-wide id: key in the Kubernetes credentials Secret, variable in the Compose env file.
    pub id: String,
    /// Service that owns it.
    pub service: String,
    /// Name local to the service.
    pub name: String,
    /// Length in characters.
    pub length: usize,
}

/// Where an environment variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvSource {
    /// Text (possibly with secrets and host names in it).
    Template(Template),
    /// A generated secret of the stack.
    Secret(String),
    /// A connection key of a dependency (`POSTGRES_URL` of service `postgres`).
    Connection {
        /// The dependency.
        service: String,
    },
}

/// One environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// Variable name.
    pub key: String,
    /// Where its value comes from.
    pub source: EnvSource,
}

/// A container port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortPlan {
    /// Port name.
    pub name: String,
    /// Container port.
    pub container_port: u16,
    /// Host port, if published.
    pub host_port: Option<u16>,
}

/// A persisted path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumePlan {
    /// Volume name within the service.
    pub name: String,
    /// Mount path.
    pub mount_path: String,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// Who the container runs as and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityPlan {
    /// UID; `None` keeps the image's user (custom images).
    pub uid: Option<i64>,
    /// GID (and volume group).
    pub gid: Option<i64>,
    /// Whether the container must not run as root.
    pub run_as_non_root: bool,
    /// Read-only root filesystem (writable paths become tmpfs / emptyDir).
    pub read_only_root: bool,
    /// Capabilities added back after dropping ALL.
    pub add_capabilities: Vec<String>,
}

/// One resolved service.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePlan {
    /// Service name.
    pub name: String,
    /// Whether it runs under the active profiles.
    pub active: bool,
    /// Its profiles (empty: always runs).
    pub profiles: Vec<String>,
    /// Catalog type, for typed services.
    pub type_name: Option<String>,
    /// Image reference, registry mirror applied.
    pub image: String,
    /// Keeps data: StatefulSet with volume claims, one replica.
    pub stateful: bool,
    /// Replica count.
    pub replicas: u32,
    /// Entrypoint override.
    pub command: Option<Vec<Template>>,
    /// Arguments.
    pub args: Option<Vec<Template>>,
    /// Environment, ordered: secrets first (Kubernetes expands `$(VAR)` only from earlier
    /// variables), then connection settings, then the rest, each group by key.
    pub env: Vec<EnvVar>,
    /// Ports.
    pub ports: Vec<PortPlan>,
    /// Health check.
    pub health: Option<Health>,
    /// Services that must be healthy first, that this one may reach.
    pub depends_on: Vec<String>,
    /// Services that depend on this one (may reach it).
    pub dependents: Vec<String>,
    /// Persisted paths.
    pub volumes: Vec<VolumePlan>,
    /// Keep volumes (and their credentials) when the stack is deleted.
    pub retain_on_delete: bool,
    /// Writable paths on a read-only root (tmpfs / emptyDir); empty when the root is writable.
    pub writable_paths: Vec<String>,
    /// User and capabilities.
    pub security: SecurityPlan,
    /// Requests and limits.
    pub resources: Budget,
    /// GPUs.
    pub gpu: u32,
    /// GPUs are required: never fall back to CPU when no node offers them.
    pub gpu_required: bool,
    /// Connection outputs other services receive (`POSTGRES_URL`, …), by key.
    pub connection: BTreeMap<String, Template>,
}

impl ServicePlan {
    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&PortPlan> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// The health check as it can run inside the container (the Compose healthcheck); `None`
    /// when there is none or only the kubelet can run it (images without a shell).
    pub fn container_health(&self) -> Option<&Health> {
        self.health.as_ref().filter(|h| h.in_container)
    }

    /// The env var (of this container) that carries secret `id` as its whole value.
    pub fn env_carrying_secret(&self, id: &str) -> Option<&str> {
        self.env.iter().find_map(|v| match &v.source {
            EnvSource::Secret(s) if s == id => Some(v.key.as_str()),
            _ => None,
        })
    }
}

/// The resolved stack.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackPlan {
    /// Stack name (`metadata.name`; the Compose project name).
    pub name: String,
    /// Namespace (Kubernetes only).
    pub namespace: Option<String>,
    /// Network isolation.
    pub isolation: Isolation,
    /// Active profiles.
    pub active_profiles: Vec<String>,
    /// Every service, by name; inactive ones are kept so Compose can offer their profiles.
    pub services: BTreeMap<String, ServicePlan>,
    /// Every generated secret, by id.
    pub secrets: Vec<SecretDef>,
}

impl StackPlan {
    /// Services that run under the active profiles.
    pub fn active_services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.values().filter(|s| s.active)
    }

    /// Name of the Kubernetes Secret with the generated credentials.
    pub fn credentials_secret_name(&self) -> String {
        format!("{}-credentials", self.name)
    }

    /// Name of the Kubernetes Secret with every service's connection settings.
    pub fn connections_secret_name(&self) -> String {
        format!("{}-connections", self.name)
    }
}

const DEFAULT_CUSTOM_BUDGET: Budget = Budget {
    request_cpu_millis: 100,
    request_memory_bytes: 128 << 20,
    limit_cpu_millis: 1000,
    limit_memory_bytes: 512 << 20,
};
const DEFAULT_STORAGE_BYTES: u64 = 1 << 30;

/// Whether `name` is an RFC 1123 DNS label of at most `max` characters.
pub fn is_dns_label(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn is_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Rewrites `image` onto a registry mirror: the original registry host (if any) is replaced.
pub fn apply_registry(image: &str, registry: Option<&str>) -> String {
    let Some(registry) = registry
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty())
    else {
        return image.to_string();
    };
    let path = match image.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => image,
    };
    format!("{registry}/{path}")
}

/// Validates `stack` and resolves it into a plan. Reports every problem found, each with the
/// path of the field and a fix.
pub fn plan(stack: &DevStack, options: &PlanOptions) -> Result<StackPlan, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let spec = &stack.spec;
    let name = stack.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        errors.push(
            "metadata.name",
            "required: the stack name (also the Compose project name)",
        );
    } else if !is_dns_label(&name, 53) {
        errors.push(
            "metadata.name",
            format!("{name:?} is not a DNS label of at most 53 characters (lowercase letters, digits, '-')"),
        );
    }
    if spec.services.is_empty() {
        errors.push(
            "spec.services",
            "must not be empty: add at least one service",
        );
    }

    let active_profiles = options
        .profiles
        .clone()
        .unwrap_or_else(|| spec.profiles.clone());
    let known_profiles: BTreeSet<&str> = spec
        .services
        .values()
        .flat_map(|s| s.profiles.iter().map(String::as_str))
        .collect();
    let profile_path = if options.profiles.is_some() {
        "--profile"
    } else {
        "spec.profiles"
    };
    for (i, profile) in active_profiles.iter().enumerate() {
        if !known_profiles.contains(profile.as_str()) {
            errors.push(
                format!("{profile_path}[{i}]"),
                format!(
                    "no service has profile {profile:?}{}; known profiles: {}",
                    did_you_mean(profile, known_profiles.iter().copied()),
                    list_or_none(known_profiles.iter().copied())
                ),
            );
        }
    }
    for type_name in options.image_overrides.keys() {
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

    let mut services = BTreeMap::new();
    let mut secrets = Vec::new();
    for (service_name, service) in &spec.services {
        let path = format!("spec.services.{service_name}");
        if !is_dns_label(service_name, 63) {
            errors.push(
                &path,
                format!("service name {service_name:?} is not a DNS label (lowercase letters, digits and '-', starting with a letter)"),
            );
        }
        let active = service.profiles.is_empty()
            || service.profiles.iter().any(|p| active_profiles.contains(p));
        if let Some(planned) = plan_service(
            &name,
            service_name,
            service,
            active,
            spec.image_registry.as_deref(),
            options,
            &path,
            &mut errors,
            &mut secrets,
        ) {
            services.insert(service_name.clone(), planned);
        }
    }

    check_dependencies(spec, &services, &mut errors);
    check_host_ports(&services, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    wire_dependencies(&mut services, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(StackPlan {
        name,
        namespace: stack.metadata.namespace.clone(),
        isolation: spec.isolation,
        active_profiles,
        services,
        secrets,
    })
}

fn list_or_none<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<_> = items.collect();
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_service(
    stack: &str,
    service_name: &str,
    service: &ServiceSpec,
    active: bool,
    registry: Option<&str>,
    options: &PlanOptions,
    path: &str,
    errors: &mut ValidationErrors,
    secrets: &mut Vec<SecretDef>,
) -> Option<ServicePlan> {
    let before = errors.0.len();
    for (i, profile) in service.profiles.iter().enumerate() {
        if !is_dns_label(profile, 63) {
            errors.push(
                format!("{path}.profiles[{i}]"),
                format!("{profile:?} is not a valid profile name (lowercase letters, digits, '-')"),
            );
        }
    }
    let entry = match (&service.type_, &service.image) {
        (Some(_), Some(_)) => {
            errors.push(path, "set exactly one of type (a catalog service) or image (your own container), not both");
            return None;
        }
        (None, None) => {
            errors.push(path, "set exactly one of type (a catalog service, see `devstack catalog`) or image (your own container)");
            return None;
        }
        (Some(type_name), None) => match catalog::lookup(type_name) {
            Some(entry) => Some(entry),
            None => {
                errors.push(
                    format!("{path}.type"),
                    format!(
                        "unknown catalog type {type_name:?}{}; `devstack catalog` lists the types",
                        did_you_mean(type_name, catalog::type_names())
                    ),
                );
                return None;
            }
        },
        (None, Some(_)) => None,
    };
    for (key, _) in service.env.iter().filter(|(k, _)| !is_env_key(k)) {
        errors.push(format!("{path}.env.{key}"), "not a valid environment variable name (letters, digits, '_', not starting with a digit)");
    }
    let resources = resolve_resources(service, entry, path, errors);
    let gpu = match service.gpu {
        Some(n) if n < 0 => {
            errors.push(
                format!("{path}.gpu"),
                format!("{n} is negative; use 0 or more"),
            );
            0
        }
        Some(n) => n as u32,
        None => 0,
    };
    let planned = match entry {
        Some(entry) => plan_catalog_service(
            stack,
            service_name,
            service,
            entry,
            registry,
            options,
            path,
            errors,
            secrets,
            resources,
            gpu,
            active,
        ),
        None => plan_custom_service(
            service_name,
            service,
            registry,
            path,
            errors,
            resources,
            gpu,
            active,
        ),
    };
    (errors.0.len() == before).then_some(planned).flatten()
}

fn resolve_resources(
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
    let mut cpu = |text: &Option<String>, field: &str, slot: &mut u64| {
        if let Some(text) = text {
            match quantity::cpu_millis(text) {
                Ok(v) if v > 0 => *slot = v,
                Ok(_) => errors.push(
                    format!("{path}.resources.{field}.cpu"),
                    "must be greater than 0",
                ),
                Err(e) => errors.push(format!("{path}.resources.{field}.cpu"), e.to_string()),
            }
        }
    };
    if let Some(r) = &resources.requests {
        cpu(&r.cpu, "requests", &mut budget.request_cpu_millis);
    }
    if let Some(l) = &resources.limits {
        cpu(&l.cpu, "limits", &mut budget.limit_cpu_millis);
    }
    let mut memory = |text: &Option<String>, field: &str, slot: &mut u64| {
        if let Some(text) = text {
            match quantity::bytes(text) {
                Ok(v) if v >= 6 << 20 => *slot = v,
                Ok(_) => errors.push(
                    format!("{path}.resources.{field}.memory"),
                    "must be at least 6Mi (Docker's minimum)",
                ),
                Err(e) => errors.push(format!("{path}.resources.{field}.memory"), e.to_string()),
            }
        }
    };
    if let Some(r) = &resources.requests {
        memory(&r.memory, "requests", &mut budget.request_memory_bytes);
    }
    if let Some(l) = &resources.limits {
        memory(&l.memory, "limits", &mut budget.limit_memory_bytes);
    }
    // A request above the default limit raises the limit with it, unless a limit was given.
    let limits = resources.limits.as_ref();
    if budget.request_cpu_millis > budget.limit_cpu_millis {
        if limits.and_then(|l| l.cpu.as_ref()).is_some() {
            errors.push(
                format!("{path}.resources.requests.cpu"),
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
                format!("{path}.resources.requests.memory"),
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

fn host_port(value: i64, path: &str, errors: &mut ValidationErrors) -> Option<u16> {
    match u16::try_from(value) {
        Ok(port) if port >= 1 => Some(port),
        _ => {
            errors.push(path, format!("host port {value} is outside 1-65535"));
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_catalog_service(
    stack: &str,
    service_name: &str,
    service: &ServiceSpec,
    entry: &CatalogEntry,
    registry: Option<&str>,
    options: &PlanOptions,
    path: &str,
    errors: &mut ValidationErrors,
    secrets: &mut Vec<SecretDef>,
    resources: Budget,
    gpu: u32,
    active: bool,
) -> Option<ServicePlan> {
    if service.ports.is_some() {
        errors.push(
            format!("{path}.ports"),
            format!(
                "the catalog defines the ports of {}; publish them with hostPorts ({})",
                entry.type_name,
                entry
                    .ports
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if service.healthcheck.is_some() {
        errors.push(
            format!("{path}.healthcheck"),
            format!(
                "the catalog defines the health check of {}; remove healthcheck",
                entry.type_name
            ),
        );
    }
    let replicas = match service.replicas {
        Some(n) if n > 1 && entry.stateful => {
            errors.push(
                format!("{path}.replicas"),
                format!(
                    "{} is stateful: it runs exactly one replica; remove replicas",
                    entry.type_name
                ),
            );
            1
        }
        Some(n) if n < 0 => {
            errors.push(format!("{path}.replicas"), "must not be negative");
            1
        }
        Some(n) => n as u32,
        None => 1,
    };
    if service.storage.is_some() && !entry.stateful {
        errors.push(
            format!("{path}.storage"),
            format!("{} keeps no data; remove storage", entry.type_name),
        );
    }
    let version = service
        .version
        .clone()
        .unwrap_or_else(|| entry.default_version.to_string());
    if version.is_empty() || version.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') {
        errors.push(
            format!("{path}.version"),
            format!("{version:?} is not an image tag"),
        );
    }
    let published: BTreeMap<String, u16> = service
        .host_ports
        .iter()
        .filter_map(|(name, port)| Some((name.clone(), u16::try_from(*port).ok()?)))
        .collect();
    let ctx = EntryContext {
        stack,
        service: service_name,
        version: &version,
        user_env: &service.env,
        memory_limit_bytes: resources.limit_memory_bytes,
        host_ports: &published,
    };
    let parts: EntryParts = (entry.build)(&ctx);

    let mut ports: Vec<PortPlan> = entry
        .ports
        .iter()
        .map(|p| PortPlan {
            name: p.name.to_string(),
            container_port: p.port,
            host_port: None,
        })
        .collect();
    for (port_name, value) in &service.host_ports {
        let field = format!("{path}.hostPorts.{port_name}");
        match ports.iter_mut().find(|p| &p.name == port_name) {
            Some(port) => port.host_port = host_port(*value, &field, errors),
            None => errors.push(
                field,
                format!(
                    "{} has no port named {port_name:?}{}; its ports: {}",
                    entry.type_name,
                    did_you_mean(port_name, entry.ports.iter().map(|p| p.name)),
                    entry
                        .ports
                        .iter()
                        .map(|p| format!("{} ({})", p.name, p.port))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }

    let secret_keys: BTreeSet<&str> = parts
        .env
        .iter()
        .filter(|(_, v)| matches!(v, EnvValue::Secret(_)))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut env = BTreeMap::new();
    for (key, value) in &parts.env {
        let source = match value {
            EnvValue::Secret(id) => EnvSource::Secret(id.clone()),
            EnvValue::Template(t) => EnvSource::Template(t.clone()),
        };
        env.insert(key.clone(), source);
    }
    for (key, value) in &service.env {
        if secret_keys.contains(key.as_str()) {
            errors.push(
                format!("{path}.env.{key}"),
                format!("{key} is generated by devstack (a secret); remove it from env"),
            );
        } else {
            env.insert(
                key.clone(),
                EnvSource::Template(Template::lit(value.clone())),
            );
        }
    }

    let size_bytes = match service.storage.as_ref().and_then(|s| s.size.as_ref()) {
        Some(text) => match quantity::bytes(text) {
            Ok(v) if v > 0 => v,
            Ok(_) => {
                errors.push(format!("{path}.storage.size"), "must be greater than 0");
                DEFAULT_STORAGE_BYTES
            }
            Err(e) => {
                errors.push(format!("{path}.storage.size"), e.to_string());
                DEFAULT_STORAGE_BYTES
            }
        },
        None => DEFAULT_STORAGE_BYTES,
    };
    let volumes = parts
        .data_paths
        .iter()
        .map(|DataPath { name, path }| VolumePlan {
            name: name.clone(),
            mount_path: path.clone(),
            size_bytes,
        })
        .collect();

    for def in entry.secrets {
        secrets.push(SecretDef {
            id: ctx.secret_id(def.name),
            service: service_name.to_string(),
            name: def.name.to_string(),
            length: def.length,
        });
    }
    let prefix = upper_snake(service_name);
    let connection = parts
        .connection
        .iter()
        .map(|(suffix, t)| (format!("{prefix}_{suffix}"), t.clone()))
        .collect();
    let image = options
        .image_overrides
        .get(entry.type_name)
        .cloned()
        .unwrap_or_else(|| apply_registry(&entry.image(&version), registry));

    Some(ServicePlan {
        name: service_name.to_string(),
        active,
        profiles: service.profiles.clone(),
        type_name: Some(entry.type_name.to_string()),
        image,
        stateful: entry.stateful,
        replicas,
        command: service
            .command
            .as_ref()
            .map(|c| c.iter().map(|s| Template::lit(s.clone())).collect())
            .or(parts.command),
        args: service
            .args
            .as_ref()
            .map(|c| c.iter().map(|s| Template::lit(s.clone())).collect())
            .or(parts.args),
        env: order_env(env),
        ports,
        health: parts.health,
        depends_on: service.depends_on.clone(),
        dependents: Vec::new(),
        volumes,
        retain_on_delete: service
            .storage
            .as_ref()
            .and_then(|s| s.retain_on_delete)
            .unwrap_or(true),
        // Writable paths exist to make a read-only root work; on a writable root they are moot.
        writable_paths: if entry.read_only_root {
            entry.writable_paths.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        },
        security: SecurityPlan {
            uid: Some(entry.uid),
            gid: Some(entry.gid),
            run_as_non_root: entry.uid != 0,
            read_only_root: entry.read_only_root,
            add_capabilities: entry
                .add_capabilities
                .iter()
                .map(|c| c.to_string())
                .collect(),
        },
        resources,
        gpu,
        gpu_required: service.gpu_required.unwrap_or(false),
        connection,
    })
}

#[allow(clippy::too_many_arguments)]
fn plan_custom_service(
    service_name: &str,
    service: &ServiceSpec,
    registry: Option<&str>,
    path: &str,
    errors: &mut ValidationErrors,
    resources: Budget,
    gpu: u32,
    active: bool,
) -> Option<ServicePlan> {
    let image = service.image.clone().unwrap_or_default();
    if image.trim().is_empty() || image.contains(char::is_whitespace) {
        errors.push(
            format!("{path}.image"),
            format!("{image:?} is not an image reference (for example ghcr.io/acme/api:1.4.2)"),
        );
    }
    if service.version.is_some() {
        errors.push(
            format!("{path}.version"),
            "version applies to catalog services; put the tag in image instead",
        );
    }
    if service.storage.is_some() {
        errors.push(
            format!("{path}.storage"),
            "storage needs a catalog type (custom images have no known data path); remove storage",
        );
    }
    if !service.host_ports.is_empty() {
        errors.push(
            format!("{path}.hostPorts"),
            "hostPorts is for catalog services; set hostPort on the entries of ports instead",
        );
    }
    let replicas = match service.replicas {
        Some(n) if n < 0 => {
            errors.push(format!("{path}.replicas"), "must not be negative");
            1
        }
        Some(n) => n as u32,
        None => 1,
    };
    if replicas > 1
        && service
            .ports
            .iter()
            .flatten()
            .any(|p| p.host_port.is_some())
    {
        errors.push(
            format!("{path}.replicas"),
            "a host port can be bound by one replica only; remove hostPort or use replicas: 1",
        );
    }
    let mut ports = Vec::new();
    let mut seen_names = BTreeSet::new();
    let mut seen_numbers = BTreeSet::new();
    for (i, port) in service.ports.iter().flatten().enumerate() {
        let field = format!("{path}.ports[{i}]");
        if !is_dns_label(&port.name, 15) {
            errors.push(
                format!("{field}.name"),
                format!(
                    "{:?} is not a port name: a DNS label of at most 15 characters",
                    port.name
                ),
            );
        }
        if !seen_names.insert(port.name.clone()) {
            errors.push(
                format!("{field}.name"),
                format!("duplicate port name {:?}", port.name),
            );
        }
        let container_port = match u16::try_from(port.container_port) {
            Ok(p) if p >= 1 => p,
            _ => {
                errors.push(
                    format!("{field}.containerPort"),
                    format!("{} is outside 1-65535", port.container_port),
                );
                continue;
            }
        };
        if !seen_numbers.insert(container_port) {
            errors.push(
                format!("{field}.containerPort"),
                format!("duplicate container port {container_port}"),
            );
        }
        let host = port
            .host_port
            .and_then(|h| host_port(h, &format!("{field}.hostPort"), errors));
        ports.push(PortPlan {
            name: port.name.clone(),
            container_port,
            host_port: host,
        });
    }
    let health = service.healthcheck.as_ref().and_then(|h| {
        let hpath = format!("{path}.healthcheck");
        let check_port = |port: &str, field: &str, errors: &mut ValidationErrors| {
            if !ports.iter().any(|p| p.name == port) {
                errors.push(
                    format!("{hpath}.{field}.port"),
                    format!(
                        "no port named {port:?}{}; ports: {}",
                        did_you_mean(port, ports.iter().map(|p| p.name.as_str())),
                        list_or_none(ports.iter().map(|p| p.name.as_str()))
                    ),
                );
            }
        };
        let set = [h.http.is_some(), h.tcp.is_some(), h.exec.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if set != 1 {
            errors.push(&hpath, "set exactly one of http, tcp or exec");
            return None;
        }
        let check = if let Some(http) = &h.http {
            check_port(&http.port, "http", errors);
            if !http.path.starts_with('/') {
                errors.push(
                    format!("{hpath}.http.path"),
                    format!("{:?} must start with '/'", http.path),
                );
            }
            Check::Http {
                path: http.path.clone(),
                port: http.port.clone(),
            }
        } else if let Some(tcp) = &h.tcp {
            check_port(&tcp.port, "tcp", errors);
            Check::Tcp {
                port: tcp.port.clone(),
            }
        } else {
            let command = h
                .exec
                .as_ref()
                .map(|e| e.command.clone())
                .unwrap_or_default();
            if command.is_empty() {
                errors.push(format!("{hpath}.exec.command"), "must not be empty");
            }
            Check::Exec(command)
        };
        let mut health = Health::new(check);
        let mut timing = |value: Option<i32>, field: &str, min: i32, slot: &mut u32| {
            if let Some(v) = value {
                if v < min {
                    errors.push(
                        format!("{hpath}.{field}"),
                        format!("must be at least {min}"),
                    );
                } else {
                    *slot = v as u32;
                }
            }
        };
        timing(
            h.interval_seconds,
            "intervalSeconds",
            1,
            &mut health.interval_seconds,
        );
        timing(
            h.timeout_seconds,
            "timeoutSeconds",
            1,
            &mut health.timeout_seconds,
        );
        timing(h.retries, "retries", 1, &mut health.retries);
        timing(
            h.start_period_seconds,
            "startPeriodSeconds",
            0,
            &mut health.start_period_seconds,
        );
        Some(health)
    });
    let env = service
        .env
        .iter()
        .map(|(k, v)| (k.clone(), EnvSource::Template(Template::lit(v.clone()))))
        .collect();
    let prefix = upper_snake(service_name);
    let mut connection = BTreeMap::new();
    if let Some(first) = ports.first() {
        connection.insert(
            format!("{prefix}_HOST"),
            Template::default().push_host(service_name),
        );
        connection.insert(
            format!("{prefix}_PORT"),
            Template::lit(first.container_port.to_string()),
        );
        connection.insert(
            format!("{prefix}_URL"),
            Template::lit("http://")
                .push_host(service_name)
                .push_lit(format!(":{}", first.container_port)),
        );
    }
    Some(ServicePlan {
        name: service_name.to_string(),
        active,
        profiles: service.profiles.clone(),
        type_name: None,
        image: apply_registry(&image, registry),
        stateful: false,
        replicas,
        command: service
            .command
            .as_ref()
            .map(|c| c.iter().map(|s| Template::lit(s.clone())).collect()),
        args: service
            .args
            .as_ref()
            .map(|c| c.iter().map(|s| Template::lit(s.clone())).collect()),
        env: order_env(env),
        ports,
        health,
        depends_on: service.depends_on.clone(),
        dependents: Vec::new(),
        volumes: Vec::new(),
        retain_on_delete: true,
        writable_paths: Vec::new(),
        security: SecurityPlan {
            uid: None,
            gid: None,
            run_as_non_root: false,
            read_only_root: false,
            add_capabilities: Vec::new(),
        },
        resources,
        gpu,
        gpu_required: service.gpu_required.unwrap_or(false),
        connection,
    })
}

fn order_env(env: BTreeMap<String, EnvSource>) -> Vec<EnvVar> {
    let rank = |s: &EnvSource| match s {
        EnvSource::Secret(_) => 0,
        EnvSource::Connection { .. } => 1,
        EnvSource::Template(_) => 2,
    };
    let mut vars: Vec<EnvVar> = env
        .into_iter()
        .map(|(key, source)| EnvVar { key, source })
        .collect();
    vars.sort_by(|a, b| {
        rank(&a.source)
            .cmp(&rank(&b.source))
            .then_with(|| a.key.cmp(&b.key))
    });
    vars
}

fn check_dependencies(
    spec: &crate::types::DevStackSpec,
    services: &BTreeMap<String, ServicePlan>,
    errors: &mut ValidationErrors,
) {
    for (name, service) in &spec.services {
        let active = services.get(name).map(|s| s.active);
        let mut seen = BTreeSet::new();
        for (i, dep) in service.depends_on.iter().enumerate() {
            let path = format!("spec.services.{name}.dependsOn[{i}]");
            if !seen.insert(dep) {
                errors.push(
                    &path,
                    format!("{dep:?} is listed twice; remove the duplicate"),
                );
                continue;
            }
            if dep == name {
                errors.push(
                    &path,
                    format!("{name:?} depends on itself; remove it from dependsOn"),
                );
                continue;
            }
            match spec.services.get(dep) {
                None => errors.push(
                    &path,
                    format!(
                        "unknown service {dep:?}{}",
                        did_you_mean(
                            dep,
                            spec.services
                                .keys()
                                .map(String::as_str)
                                .filter(|k| *k != name)
                        )
                    ),
                ),
                Some(_) => {
                    if active == Some(true) && services.get(dep).map(|d| d.active) == Some(false) {
                        let profiles = &spec.services[dep].profiles;
                        errors.push(
                            &path,
                            format!(
                                "{dep:?} is not active under the selected profiles; activate one of its profiles ({}) or give {name:?} a profile that excludes it",
                                profiles.join(", ")
                            ),
                        );
                    }
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(spec) {
        errors.push(
            format!("spec.services.{}.dependsOn", cycle[0]),
            format!(
                "dependency cycle {}; remove one of these dependsOn edges",
                cycle.join(" -> ")
            ),
        );
    }
}

/// A dependency cycle (first node repeated at the end), if there is one. Self-edges are
/// reported separately and ignored here.
fn find_cycle(spec: &crate::types::DevStackSpec) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = spec
        .services
        .keys()
        .map(|k| (k.as_str(), Mark::New))
        .collect();
    fn visit<'a>(
        node: &'a str,
        spec: &'a crate::types::DevStackSpec,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(node, Mark::Open);
        stack.push(node);
        for dep in spec
            .services
            .get(node)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or_default()
        {
            if dep == node || !spec.services.contains_key(dep) {
                continue;
            }
            match marks.get(dep.as_str()).copied() {
                Some(Mark::Open) => {
                    let start = stack.iter().position(|n| n == dep).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(dep.clone());
                    return Some(cycle);
                }
                Some(Mark::New) => {
                    if let Some(c) = visit(dep, spec, marks, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let names: Vec<&str> = spec.services.keys().map(String::as_str).collect();
    for name in names {
        if marks.get(name) == Some(&Mark::New) {
            let mut stack = Vec::new();
            if let Some(c) = visit(name, spec, &mut marks, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn check_host_ports(services: &BTreeMap<String, ServicePlan>, errors: &mut ValidationErrors) {
    let mut taken: BTreeMap<u16, (String, String)> = BTreeMap::new();
    for service in services.values().filter(|s| s.active) {
        for port in &service.ports {
            let Some(host) = port.host_port else { continue };
            if let Some((other, other_port)) = taken.get(&host) {
                let field = if service.type_name.is_some() {
                    format!("spec.services.{}.hostPorts.{}", service.name, port.name)
                } else {
                    let i = service
                        .ports
                        .iter()
                        .position(|p| p.name == port.name)
                        .unwrap_or(0);
                    format!("spec.services.{}.ports[{i}].hostPort", service.name)
                };
                errors.push(
                    field,
                    format!("host port {host} is already used by {other} ({other_port}); pick another port or put one of them in a different profile"),
                );
            } else {
                taken.insert(host, (service.name.clone(), port.name.clone()));
            }
        }
    }
}

/// Records dependents and gives each service its dependencies' connection settings.
fn wire_dependencies(services: &mut BTreeMap<String, ServicePlan>, errors: &mut ValidationErrors) {
    let edges: Vec<(String, String)> = services
        .values()
        .flat_map(|s| {
            s.depends_on
                .iter()
                .map(move |d| (s.name.clone(), d.clone()))
        })
        .collect();
    for (dependent, dependency) in &edges {
        let keys: Vec<String> = services
            .get(dependency)
            .map(|d| d.connection.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(dep) = services.get_mut(dependency) {
            dep.dependents.push(dependent.clone());
        }
        if let Some(service) = services.get_mut(dependent) {
            let mut env: BTreeMap<String, EnvSource> =
                service.env.drain(..).map(|v| (v.key, v.source)).collect();
            for key in keys {
                if let Some(existing) = env.get(&key) {
                    let what = match existing {
                        EnvSource::Connection { service } => {
                            format!("the connection settings of {service:?}")
                        }
                        _ => "its own env".to_string(),
                    };
                    errors.push(
                        format!("spec.services.{dependent}.env.{key}"),
                        format!("{key} comes from dependsOn {dependency:?} and also from {what}; remove one"),
                    );
                    continue;
                }
                env.insert(
                    key,
                    EnvSource::Connection {
                        service: dependency.clone(),
                    },
                );
            }
            service.env = order_env(env);
        }
    }
    for service in services.values_mut() {
        service.dependents.sort();
    }
}
