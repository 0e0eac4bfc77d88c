//! The `DevStack` custom resource (`devstack.dev/v1alpha1`): what users write.
//!
//! Doc comments on these types become `kubectl explain` text, so they are written for users.
//! Rules the API server can check on its own are CEL rules here; everything that needs the
//! catalog (port names, stateful types, dependency graph) is checked by `devstack_core::plan::plan`,
//! which the CLI and the operator both run.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

pub use crate::files::{FileSpec, StorageVolumeSpec};

/// A development stack: databases, caches, brokers, observability and your own services,
/// provisioned identically in Kubernetes and Docker.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "devstack.dev",
    version = "v1alpha1",
    kind = "DevStack",
    plural = "devstacks",
    shortname = "dvs",
    namespaced,
    status = "DevStackStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Services","type":"integer","description":"number of services that are ready","jsonPath":".status.readyServices"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevStackSpec {
    /// Active profiles. A service without profiles always runs; a service with profiles runs
    /// when one of them is active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,

    /// Network isolation between services. `strict` (default): a service accepts connections
    /// only from the services that list it in `dependsOn`. `open`: any service may connect.
    #[serde(default)]
    pub isolation: Isolation,

    /// Optional registry mirror prefix rewritten onto every image (for air-gapped clusters),
    /// for example `registry.local:5000/mirror`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<String>,

    /// The services of the stack, by name. Names are DNS labels.
    #[x_kube(validation = kube::core::Rule::new("self.size() >= 1").message("services must not be empty: add at least one service"))]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, k.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'))").message("service names must be DNS labels: lowercase letters, digits and '-', starting with a letter"))]
    #[schemars(extend("maxProperties" = crate::limits::MAX_SERVICES))]
    pub services: BTreeMap<String, ServiceSpec>,

    /// Observability settings (the scrape interval of the stack's prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<crate::observability::ObservabilitySpec>,
}

/// How services may reach each other.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Only declared `dependsOn` edges may connect (NetworkPolicies / per-edge networks).
    #[default]
    Strict,
    /// Any service may connect to any other.
    Open,
}

/// One service: either a catalog entry (`type`) or your own container (`image`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = kube::core::Rule::new("has(self.type) != (has(self.image) || has(self.build))").message("set exactly one of type (a catalog service) or image / build (your own container)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.type) || !has(self.ports)").message("ports are defined by the catalog for typed services; use hostPorts to publish them"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.image) || !has(self.version)").message("version applies to catalog services; put the tag in image instead"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.replicas) || self.replicas <= 1 || has(self.image)").message("replicas > 1 is only allowed on stateless services (custom images)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.image) || !has(self.storage) || has(self.storage.path) || has(self.storage.volumes)").message("an image service's storage needs its data path: set storage.path or storage.volumes"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.type) || !has(self.storage) || (!has(self.storage.path) && !has(self.storage.volumes))").message("the catalog decides where a typed service keeps its data: remove storage.path and storage.volumes"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.storage) || !has(self.replicas) || self.replicas == 1").message("a service with storage keeps data: it runs exactly one replica"))]
pub struct ServiceSpec {
    /// Catalog service type, for example `postgres`, `redis`, `qdrant`
    /// (`devstack catalog` lists them). Exactly one of `type` and `image`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,

    /// Version (image tag) of a catalog service; the catalog's pinned default otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// Container image of your own service, with a tag. Exactly one of `type` and `image`
    /// (with `build`: the repository the built image is tagged into).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Profiles this service belongs to; none means it always runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,

    /// Host ports for a catalog service's named ports: port name -> host port. Bound to
    /// 127.0.0.1 in Docker, a NodePort (Kind `extraPortMappings`) in Kubernetes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, self[k] >= 1 && self[k] <= 65535)").message("host ports must be within 1-65535"))]
    #[schemars(extend("maxProperties" = crate::limits::MAX_HOST_PORTS))]
    pub host_ports: BTreeMap<String, i64>,

    /// Ports of a custom container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = crate::limits::MAX_PORTS))]
    pub ports: Option<Vec<PortSpec>>,

    /// Replaces the image entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,

    /// Replaces the image arguments (for catalog services, the catalog's arguments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,

    /// Number of replicas; only for stateless services. Defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = crate::limits::MAX_REPLICAS))]
    pub replicas: Option<i32>,

    /// Services this one needs: they start (healthy) first, this service may connect to them,
    /// and it receives their connection settings (`<NAME>_URL`, `_HOST`, `_PORT`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,

    /// Health check of a custom container (catalog services bring their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthcheckSpec>,

    /// Persistent storage: a catalog service's data paths, or an image service's own
    /// (`path` or `volumes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,

    /// Files placed in the container, read-only, by absolute container path: `content` or
    /// `source`, optional `mode`. Also on catalog services (init SQL under
    /// `/docker-entrypoint-initdb.d/`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, k.startsWith('/'))").message("file paths must be absolute container paths (start with /)"))]
    #[schemars(extend("maxProperties" = crate::limits::MAX_FILES))]
    pub files: BTreeMap<String, crate::files::FileSpec>,

    /// CPU and memory requests and limits; the catalog's defaults otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,

    /// Extra, non-secret environment settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,

    /// Generated app secrets, each set as the env var of that name: a list (`[JWT_SECRET]`)
    /// or a map of options (`{JWT_SECRET: {length: 64, alphabet: hex}}`; length 16-256, default
    /// 32; alphabet `alphanumeric` (default), `hex` or `lowercase`). Generated once per stack
    /// and kept with its credentials (the `<stack>-credentials` Secret, `.devstack/<stack>/.env`);
    /// replaced only by `devstack secrets rotate` or the `devstack.dev/rotate` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::app::app_secrets_schema")]
    pub secrets: Option<crate::app::AppSecrets>,

    /// Env vars set to a dependency's connection value, under the name your program reads:
    /// env key -> `<service>.<OUTPUT>`, for example `DB_NAME: db.DB` (the value `DB_DB`
    /// carries) or `OTLP_ENDPOINT: jaeger.GRPC_URL`. The service must be in `dependsOn`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, k.matches('^[A-Za-z_][A-Za-z0-9_]*$'))").message("connectionEnv keys must be environment variable names"))]
    #[schemars(extend("maxProperties" = crate::limits::MAX_CONNECTION_ENV))]
    pub connection_env: BTreeMap<String, String>,

    /// Number of GPUs (a Docker device request / `nvidia.com/gpu` limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = crate::limits::MAX_GPU))]
    pub gpu: Option<i32>,

    /// Whether the GPUs are required. By default (`false`) the operator requests
    /// `nvidia.com/gpu` only when some node offers it, and otherwise runs the service on CPU
    /// with `DEVSTACK_GPU=0` in its environment (the status says so). `true`: always request
    /// the GPUs, so the pod waits for a node that has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_required: Option<bool>,

    /// Build the image from a Dockerfile (image services); `image` is then the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<crate::devloop::BuildSpec>,

    /// Host paths mounted into the container (image services).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<crate::devloop::MountSpec>,

    /// Source directories `devstack dev` keeps in sync with the running container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync: Vec<crate::devloop::SyncSpec>,
    /// Where a custom service serves Prometheus metrics (`{port: http, path: /metrics}`);
    /// catalog services declare theirs. The stack's prometheus scrapes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<crate::observability::MetricsSpec>,
}

/// A named container port of a custom service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSpec {
    /// Port name (a DNS label of at most 15 characters), referenced by health checks.
    pub name: String,
    /// Port the container listens on.
    #[schemars(range(min = 1, max = 65535))]
    pub container_port: i64,
    /// Optional host port (127.0.0.1 in Docker, a NodePort in Kubernetes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub host_port: Option<i64>,
}

/// How to tell that a custom container is healthy: exactly one of `http`, `tcp`, `exec`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = kube::core::Rule::new("(has(self.http) ? 1 : 0) + (has(self.tcp) ? 1 : 0) + (has(self.exec) ? 1 : 0) == 1").message("set exactly one of http, tcp or exec"))]
pub struct HealthcheckSpec {
    /// An HTTP GET that must answer 2xx/3xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// A TCP connect that must succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// A command run inside the container that must exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecCheck>,
    /// Seconds between checks (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = crate::limits::MAX_SECONDS))]
    pub interval_seconds: Option<i32>,
    /// Seconds before a check counts as failed (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = crate::limits::MAX_SECONDS))]
    pub timeout_seconds: Option<i32>,
    /// Consecutive failures before the service is unhealthy (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = crate::limits::MAX_RETRIES))]
    pub retries: Option<i32>,
    /// Grace period after start during which failures do not count (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = crate::limits::MAX_SECONDS))]
    pub start_period_seconds: Option<i32>,
}

/// HTTP health check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// Request path, starting with `/`.
    pub path: String,
    /// Name of one of the service's ports.
    pub port: String,
}

/// TCP health check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// Name of one of the service's ports.
    pub port: String,
}

/// Command health check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecCheck {
    /// Command and arguments, run without a shell.
    pub command: Vec<String>,
}

/// Persistent storage: sizes a catalog service's data paths, or gives an image service its
/// own (`path`, or several `volumes`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = kube::core::Rule::new("!has(self.path) || !has(self.volumes)").message("set path (one data path) or volumes (several), not both"))]
pub struct StorageSpec {
    /// Size of each data volume, a Kubernetes quantity (default 1Gi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Keep the data (and the credentials that protect it) when the stack is deleted
    /// (default true). Only `devstack reset` or an explicit flag destroys retained data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_on_delete: Option<bool>,
    /// The data path of an image service (a volume named `data`); catalog services keep
    /// their data where the catalog says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Several named data paths of an image service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("maxItems" = crate::limits::MAX_VOLUMES))]
    pub volumes: Vec<crate::files::StorageVolumeSpec>,
}

/// CPU and memory budget.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSpec {
    /// Guaranteed amounts (`cpu`, `memory`), Kubernetes quantities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceAmounts>,
    /// Upper bounds (`cpu`, `memory`), Kubernetes quantities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceAmounts>,
}

/// A CPU and memory amount.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    /// CPU, for example `250m` or `1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory, for example `256Mi` or `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Observed state of a stack, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevStackStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus-compatible conditions: `Ready` (every active service is ready), `Reconciling`
    /// (the operator is still working towards Ready) and `Stalled` (it cannot go on without a
    /// change, for example an invalid spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Number of services that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_services: Option<i32>,
    /// Per-service state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceStatus>,
    /// Name of the Secret holding every service's connection settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_secret: Option<String>,
    /// The value of the `devstack.dev/reset` annotation whose reset (data and credentials
    /// wiped) was last carried out; a new value requests another reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reset: Option<String>,
    /// A digest (SHA-256, hex) of the stack's objects but its Secrets, each with the version
    /// at which the operator last saw it hold what it wants: after an operator restart, a
    /// stack whose objects still match it is not read again. Written by the operator only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_objects: Option<String>,
}

/// State of one service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Whether all replicas are ready.
    pub ready: bool,
    /// In-cluster address, `host:port` of the first port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Image that runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Published host ports, by port name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub host_ports: BTreeMap<String, i64>,
    /// Why the service is not ready yet, for example `waiting for db` while a dependency is
    /// not Ready (its workload is not created until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where a service with `gpu` runs: `nvidia.com/gpu: N`, or `cpu (no node offers
    /// nvidia.com/gpu)` when it falls back to CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// Whether the stack's prometheus scrapes this service's metrics: `up`, `down (error)` or
    /// `unknown` (not scraped yet); absent without metrics or without a prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}
