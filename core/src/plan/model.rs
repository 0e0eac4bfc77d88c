//! The plan's types. Fields are public for reading; the plan itself (and every service in it)
//! can only be made by [`super::plan`], which validates the spec first, so a renderer can rely
//! on what the types say: ports are numbers, secrets are declared and carried, dependencies
//! exist, and a workload is either stateful (volumes) or stateless (replicas), never both.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Budget;
use crate::conventions;
use crate::template::{ContainerTemplate, SecretId, Template};
use crate::types::Isolation;

use super::files::PlannedFile;

/// Proof that a value came out of validation: only the plan module can make one, so no other
/// code can build a [`StackPlan`] or [`ServicePlan`] literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Validated(());

impl Validated {
    pub(super) fn new() -> Self {
        Validated(())
    }
}

/// A generated secret of the stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretDef {
    /// Stack-wide id: key in the Kubernetes credentials Secret, variable in the Compose env file.
    pub id: SecretId,
    /// Service that owns it.
    pub service: String,
    /// Name local to the service.
    pub name: String,
    /// Length in characters.
    pub length: usize,
    /// Characters it is drawn from.
    pub alphabet: crate::app::Alphabet,
    /// An app secret (the spec's `secrets`): `devstack secrets rotate` may replace it. Catalog
    /// credentials are never rotated: they protect data created with them.
    pub app: bool,
}

/// Where an environment variable's value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvSource {
    /// Text (possibly with secrets carried by other variables, and host names in it).
    Template(ContainerTemplate),
    /// A generated secret of the stack.
    Secret(SecretId),
    /// A connection output of a dependency (`POSTGRES_URL` of service `postgres`).
    Connection {
        /// The dependency.
        service: String,
        /// The dependency's connection key (the env var's own key, or what `connectionEnv`
        /// maps to it): the key in the connections Secret.
        key: String,
        /// The dependency's value for this key (secrets are the dependency's, by id).
        value: Template,
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
    /// The node port of the host port in Kubernetes (inside the node port range; see
    /// [`super::NodePortRange`]).
    pub node_port: Option<u16>,
}

/// A port a health check uses: its name (Kubernetes probes name it) and number (Compose
/// checks connect to it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamedPort {
    /// Port name.
    pub name: String,
    /// Container port.
    pub number: u16,
}

/// A command line that has a program (never empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Argv(Vec<String>);

impl Argv {
    /// `argv` if it names a program.
    pub fn new(argv: Vec<String>) -> Option<Self> {
        (!argv.is_empty()).then_some(Argv(argv))
    }

    /// The words, program first.
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// How a container proves it is healthy, ports resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Probe {
    /// A command run in the container.
    Exec(Argv),
    /// HTTP GET on a port.
    Http {
        /// Request path (starts with `/`).
        path: String,
        /// The port.
        port: NamedPort,
    },
    /// TCP connect on a port.
    Tcp {
        /// The port.
        port: NamedPort,
    },
}

/// A health check with its timing, identical in both modes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthPlan {
    /// What to check.
    pub probe: Probe,
    /// Seconds between checks (at least 1).
    pub interval_seconds: u32,
    /// Seconds before one check counts as failed.
    pub timeout_seconds: u32,
    /// Consecutive failures before unhealthy.
    pub retries: u32,
    /// Grace period after start.
    pub start_period_seconds: u32,
    /// Whether the check can run inside the container (the Compose healthcheck); false for
    /// images without a shell, which only the kubelet probes.
    pub in_container: bool,
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

/// How a service runs: keeping data (one instance, volumes) or not (any number of replicas).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Workload {
    /// Keeps data: a StatefulSet with volume claims in Kubernetes, named volumes in Compose;
    /// always exactly one instance.
    Stateful {
        /// Persisted paths.
        volumes: Vec<VolumePlan>,
        /// Keep the volumes (and their credentials) when the stack is deleted.
        retain_on_delete: bool,
    },
    /// Keeps nothing: a Deployment / a Compose service with `replicas` instances.
    Stateless {
        /// Instance count (0 keeps the service defined but stopped).
        replicas: u32,
    },
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

impl SecurityPlan {
    /// The image's own user, nothing added: what a custom image gets.
    pub(super) fn image_default() -> Self {
        SecurityPlan {
            uid: None,
            gid: None,
            run_as_non_root: false,
            read_only_root: false,
            add_capabilities: Vec::new(),
        }
    }
}

/// How a service waits for a dependency before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WaitFor {
    /// The dependency's in-container health check passes (Compose `service_healthy`).
    Healthy,
    /// The dependency has started (it has no in-container check; Compose `service_started`).
    Started,
}

/// A dependency of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The service depended on.
    pub service: String,
    /// What Compose waits for (Kubernetes always waits for Ready).
    pub wait_for: WaitFor,
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
    /// Stateful (volumes) or stateless (replicas).
    pub workload: Workload,
    /// Entrypoint override.
    pub command: Option<Vec<ContainerTemplate>>,
    /// Arguments.
    pub args: Option<Vec<ContainerTemplate>>,
    /// Environment, ordered: secrets first (Kubernetes expands `$(VAR)` only from earlier
    /// variables), then connection settings, then the rest, each group by key.
    pub env: Vec<EnvVar>,
    /// Ports.
    pub ports: Vec<PortPlan>,
    /// Health check.
    pub health: Option<HealthPlan>,
    /// Services that must be healthy first, that this one may reach, in spec order.
    pub depends_on: Vec<Dependency>,
    /// Services that depend on this one (may reach it), sorted.
    pub dependents: Vec<String>,
    /// Writable paths on a read-only root (tmpfs / emptyDir); empty when the root is writable.
    pub writable_paths: Vec<String>,
    /// Files mounted read-only (ConfigMap `subPath` / bind mount), by path: the catalog's,
    /// the spec's and generated ones.
    pub files: Vec<PlannedFile>,
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
    /// How the image is built (image services with `build`).
    pub build: Option<super::BuildPlan>,
    /// Host paths mounted into the container.
    pub mounts: Vec<super::MountPlan>,
    /// Source directories `devstack dev` keeps in sync.
    pub sync: Vec<super::SyncPlan>,
    /// Metrics endpoints the stack's prometheus scrapes.
    pub metrics: Vec<super::observability::MetricsPlan>,
    #[serde(skip)]
    pub(super) validated: Validated,
}

impl ServicePlan {
    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<&PortPlan> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// The health check as it can run inside the container (the Compose healthcheck); `None`
    /// when there is none or only the kubelet can run it (images without a shell).
    pub fn container_health(&self) -> Option<&HealthPlan> {
        self.health.as_ref().filter(|h| h.in_container)
    }

    /// Whether the service keeps data.
    pub fn is_stateful(&self) -> bool {
        matches!(self.workload, Workload::Stateful { .. })
    }

    /// Persisted paths (none for a stateless service).
    pub fn volumes(&self) -> &[VolumePlan] {
        match &self.workload {
            Workload::Stateful { volumes, .. } => volumes,
            Workload::Stateless { .. } => &[],
        }
    }

    /// Whether deleting the stack keeps this service's data (false when it has none).
    pub fn retains_data(&self) -> bool {
        matches!(
            self.workload,
            Workload::Stateful {
                retain_on_delete: true,
                ..
            }
        )
    }

    /// Instance count (1 for a stateful service).
    pub fn replicas(&self) -> u32 {
        match self.workload {
            Workload::Stateful { .. } => 1,
            Workload::Stateless { replicas } => replicas,
        }
    }

    /// The digest of the service's files (see [`super::files_hash`]); `None` without files.
    pub fn files_hash(&self) -> Option<String> {
        super::files::files_hash(&self.files)
    }

    /// Names of the services this one depends on, in spec order.
    pub fn dependency_names(&self) -> impl Iterator<Item = &str> {
        self.depends_on.iter().map(|d| d.service.as_str())
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
    /// Scrape interval and scrape edges.
    pub observability: super::observability::ObservabilityPlan,
    #[serde(skip)]
    pub(super) validated: Validated,
}

impl StackPlan {
    /// Services that run under the active profiles.
    pub fn active_services(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.values().filter(|s| s.active)
    }

    /// Name of the Kubernetes Secret with the generated credentials.
    pub fn credentials_secret_name(&self) -> String {
        conventions::credentials_secret(&self.name)
    }

    /// Name of the Kubernetes Secret with every service's connection settings.
    pub fn connections_secret_name(&self) -> String {
        conventions::connections_secret(&self.name)
    }

    /// The namespace used in host names (`default` when the plan has none).
    pub fn dns_namespace(&self) -> &str {
        self.namespace
            .as_deref()
            .unwrap_or(conventions::DEFAULT_NAMESPACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::plan_spec;

    #[test]
    fn argv_is_never_empty() {
        assert_eq!(Argv::new(Vec::new()), None);
        let argv = Argv::new(vec!["true".into()]).expect("a program");
        assert_eq!(argv.words(), ["true"]);
    }

    #[test]
    fn workload_accessors_follow_the_variant() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres}\n  api: {image: a:1, replicas: 0, dependsOn: [db]}\n",
        );
        let (db, api) = (&plan.services["db"], &plan.services["api"]);
        assert!(db.is_stateful() && db.retains_data());
        assert_eq!((db.replicas(), db.volumes().len()), (1, 1));
        assert!(!api.is_stateful() && !api.retains_data());
        assert_eq!((api.replicas(), api.volumes().len()), (0, 0));
        assert_eq!(api.dependency_names().collect::<Vec<_>>(), ["db"]);
        assert_eq!(plan.dns_namespace(), "default");
        assert_eq!(plan.credentials_secret_name(), "demo-credentials");
    }
}
