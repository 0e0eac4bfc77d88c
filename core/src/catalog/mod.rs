//! The service catalog: what each upstream image expects, as data plus one small function per
//! type. Adding a type means one new module here, one line in [`ENTRIES`], and its golden test.
//!
//! Facts come from `shared/catalog-facts.md` (official images, their Helm charts and the
//! Testcontainers modules).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::template::{SecretId, Template};

mod ai;
mod analytics;
mod cache;
mod document;
mod graph;
mod messaging;
pub mod metrics;
mod observability;
mod postgres;
mod s3gateway;
mod search;
mod storage;
pub mod url;
mod vector;

/// A named port of a catalog service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogPort {
    /// Port name (used by `hostPorts` and health checks).
    pub name: &'static str,
    /// Container port.
    pub port: u16,
}

/// Default CPU/memory budget of a service class (dev sizes, after the Bitnami presets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SizePreset {
    /// requests 100m / 128Mi, limits 500m / 256Mi
    Nano,
    /// requests 250m / 256Mi, limits 1 / 512Mi
    Micro,
    /// requests 500m / 512Mi, limits 2 / 1Gi
    Small,
    /// requests 500m / 1Gi, limits 2 / 2Gi
    Medium,
}

/// Requests and limits as exact numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Requested millicores.
    pub request_cpu_millis: u64,
    /// Requested bytes of memory.
    pub request_memory_bytes: u64,
    /// Limit in millicores.
    pub limit_cpu_millis: u64,
    /// Limit in bytes of memory.
    pub limit_memory_bytes: u64,
}

impl SizePreset {
    /// The requests and limits of this preset.
    pub fn budget(self) -> Budget {
        const MI: u64 = 1 << 20;
        let (rc, rm, lc, lm) = match self {
            SizePreset::Nano => (100, 128 * MI, 500, 256 * MI),
            SizePreset::Micro => (250, 256 * MI, 1000, 512 * MI),
            SizePreset::Small => (500, 512 * MI, 2000, 1024 * MI),
            SizePreset::Medium => (500, 1024 * MI, 2000, 2048 * MI),
        };
        Budget {
            request_cpu_millis: rc,
            request_memory_bytes: rm,
            limit_cpu_millis: lc,
            limit_memory_bytes: lm,
        }
    }
}

/// How a container proves it is healthy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    /// A command run in the container (no shell unless the command starts one). The same
    /// command is the Compose healthcheck and the Kubernetes exec probe.
    Exec(Vec<String>),
    /// HTTP GET on a named port (Kubernetes httpGet; Compose runs wget/curl in the container).
    Http {
        /// Request path.
        path: String,
        /// Port name.
        port: String,
    },
    /// TCP connect on a named port (Kubernetes tcpSocket; Compose uses bash `/dev/tcp`).
    Tcp {
        /// Port name.
        port: String,
    },
}

/// A health check with its timing, identical in both modes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// What to check.
    pub check: Check,
    /// Seconds between checks.
    pub interval_seconds: u32,
    /// Seconds before one check counts as failed.
    pub timeout_seconds: u32,
    /// Consecutive failures before unhealthy.
    pub retries: u32,
    /// Grace period after start.
    pub start_period_seconds: u32,
    /// Whether the check can run inside the container (the Compose healthcheck). False for
    /// images without a shell or client (FROM scratch): only Kubernetes probes them, from the
    /// kubelet, and Compose dependents wait for `service_started` instead of healthy.
    pub in_container: bool,
}

impl Health {
    /// A health check with the project's default timing (10s / 3s / 5 retries / 10s start).
    pub fn new(check: Check) -> Self {
        Health {
            check,
            interval_seconds: 10,
            timeout_seconds: 3,
            retries: 5,
            start_period_seconds: 10,
            in_container: true,
        }
    }

    /// Marks the check as runnable only from outside the container (see `in_container`).
    pub fn outside_only(mut self) -> Self {
        self.in_container = false;
        self
    }

    /// Sets the start period (slow starters such as JVMs).
    pub fn start_period(mut self, seconds: u32) -> Self {
        self.start_period_seconds = seconds;
        self
    }

    /// An exec check from string slices.
    pub fn exec(argv: &[&str]) -> Self {
        Health::new(Check::Exec(argv.iter().map(|s| s.to_string()).collect()))
    }

    /// A `sh -c` check (the script may use the container's environment, e.g. `$POSTGRES_USER`).
    pub fn shell(script: &str) -> Self {
        Health::exec(&["sh", "-c", script])
    }

    /// Sets the per-check timeout (checks that start a JVM or an Erlang VM need more than 3s).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = seconds;
        self
    }

    /// `wget -q --spider` on a local URL (images with busybox or GNU wget).
    pub fn wget(url: &str) -> Self {
        Health::exec(&["wget", "-q", "--spider", url])
    }

    /// An HTTP GET on `127.0.0.1:port` written with bash's `/dev/tcp`, for images that have bash
    /// but neither curl nor wget; healthy when the status line says 200. No external tools.
    pub fn bash_http(port: u16, path: &str) -> Self {
        Health::exec(&["bash", "-c", &bash_http_script(port, path)])
    }
}

fn bash_http_script(port: u16, path: &str) -> String {
    format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && \
         printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && \
         read -r status <&3 && [[ $status == *' 200 '* ]]"
    )
}

/// An environment value a catalog entry sets in its own container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvValue {
    /// Text, possibly with secrets or host names in it.
    Template(Template),
    /// Exactly one generated secret (a Secret reference in Kubernetes).
    Secret(SecretId),
}

/// A persisted path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataPath {
    /// Volume name, unique within the service (`data`, `snapshots`, …).
    pub name: String,
    /// Mount path in the container.
    pub path: String,
}

/// What a catalog entry contributes for one service instance.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryParts {
    /// Entrypoint override (rarely needed).
    pub command: Option<Vec<Template>>,
    /// Arguments.
    pub args: Option<Vec<Template>>,
    /// The image's environment contract.
    pub env: BTreeMap<String, EnvValue>,
    /// Health check; `None` only for images that cannot run one (FROM scratch).
    pub health: Option<Health>,
    /// Persisted paths (empty for stateless types).
    pub data_paths: Vec<DataPath>,
    /// Connection outputs by suffix (`URL`, `HOST`, `PORT`, `USER`, `PASSWORD`, `DB`, …); the
    /// plan prefixes them with the service name (`POSTGRES_URL`).
    pub connection: BTreeMap<String, Template>,
    /// Files the image reads, by container path (text, mode 0644): for example init SQL under
    /// `/docker-entrypoint-initdb.d/`. Mounted like the spec's `files`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

// Small builders the entries share (private to the catalog).
impl EntryParts {
    /// Sets a literal environment variable.
    fn env_lit(&mut self, key: &str, value: impl Into<String>) {
        self.env
            .insert(key.to_string(), EnvValue::Template(Template::lit(value)));
    }

    /// Sets an environment variable holding exactly one of the service's secrets.
    fn env_secret(&mut self, key: &str, ctx: &EntryContext, name: &str) {
        self.env.insert(key.to_string(), ctx.secret_env(name));
    }

    /// Adds a persisted path.
    fn data(&mut self, name: &str, path: &str) {
        self.data_paths.push(DataPath {
            name: name.to_string(),
            path: path.to_string(),
        });
    }

    /// The outputs every entry has: `URL`, `HOST` (this service) and `PORT`.
    fn connect(&mut self, ctx: &EntryContext, url: Template, port: u16) {
        self.output("URL", url);
        self.output("HOST", ctx.host());
        self.output("PORT", port.to_string());
    }

    /// Adds a connection output by suffix.
    fn output(&mut self, suffix: &str, value: impl Into<Template>) {
        self.connection.insert(suffix.to_string(), value.into());
    }
}

/// `http://<host>:<port><path>` for this service.
fn http_url(ctx: &EntryContext, port: u16, path: &str) -> Template {
    Template::lit("http://")
        .push_host(ctx.service)
        .push_lit(format!(":{port}{path}"))
}

/// JVM heap flags for half the service's memory limit (`-Xms512m -Xmx512m` for a 1Gi limit, at
/// least 64m): the limit is the resolved one, so the heap follows a user's
/// `resources.limits.memory`; the variable can still be overridden in `env`.
fn java_heap(ctx: &EntryContext) -> String {
    let mib = (ctx.memory_limit_bytes / (1 << 20) / 2).max(64);
    format!("-Xms{mib}m -Xmx{mib}m")
}

/// The context an entry builds its parts in.
#[derive(Clone, Debug)]
pub struct EntryContext<'a> {
    /// Stack name (`metadata.name`).
    pub stack: &'a str,
    /// Service name (the key in `spec.services`).
    pub service: &'a str,
    /// Resolved version (image tag).
    pub version: &'a str,
    /// The user's extra env, so entries can honour overrides such as `POSTGRES_DB`.
    pub user_env: &'a BTreeMap<String, String>,
    /// The resolved memory limit, so JVM heaps follow a user's `resources.limits.memory`.
    pub memory_limit_bytes: u64,
    /// Published host ports by port name, for services that must advertise them (Kafka).
    pub host_ports: &'a BTreeMap<String, u16>,
}

impl EntryContext<'_> {
    /// Stack-wide id of one of this service's generated secrets.
    pub fn secret_id(&self, name: &str) -> SecretId {
        SecretId::new(self.service, name)
    }

    /// A template holding one of this service's generated secrets.
    pub fn secret(&self, name: &str) -> Template {
        Template::default().push_secret(self.secret_id(name))
    }

    /// An env value holding one of this service's generated secrets.
    pub fn secret_env(&self, name: &str) -> EnvValue {
        EnvValue::Secret(self.secret_id(name))
    }

    /// A template holding this service's host name.
    pub fn host(&self) -> Template {
        Template::default().push_host(self.service)
    }

    /// The user's value for `key`, or `default`.
    pub fn env_or(&self, key: &str, default: &str) -> String {
        self.user_env
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// Major version number parsed from the leading digits of the version (`18.1` → 18).
    pub fn major(&self) -> Option<u32> {
        let digits: String = self
            .version
            .trim_start_matches('v')
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }
}

/// A generated secret a type needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    /// Name, local to the service (`password`).
    pub name: &'static str,
    /// Length in characters (alphanumeric, so URLs need no escaping).
    pub length: usize,
}

/// One catalog type.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    /// The `type` users write.
    pub type_name: &'static str,
    /// One line for `devstack catalog`.
    pub description: &'static str,
    /// Image repository without tag.
    pub repository: &'static str,
    /// Pinned default tag.
    pub default_version: &'static str,
    /// Whether the type keeps data (StatefulSet, volumes, replicas fixed at 1).
    pub stateful: bool,
    /// Named container ports; the first is the main one.
    pub ports: &'static [CatalogPort],
    /// UID the container runs as (`0`: the image needs root).
    pub uid: i64,
    /// GID the container runs as (and the volume group).
    pub gid: i64,
    /// Whether the root filesystem can be read-only (with `writable_paths` as tmpfs/emptyDir).
    pub read_only_root: bool,
    /// Paths that must stay writable besides the data paths.
    pub writable_paths: &'static [&'static str],
    /// Capabilities added back after dropping ALL.
    pub add_capabilities: &'static [&'static str],
    /// Default requests/limits.
    pub size: SizePreset,
    /// Generated secrets.
    pub secrets: &'static [SecretSpec],
    /// Builds env, args, health, data paths and connection outputs.
    #[serde(skip)]
    pub build: fn(&EntryContext) -> EntryParts,
}

impl CatalogEntry {
    /// Image reference for a version: `repository:version`.
    pub fn image(&self, version: &str) -> String {
        format!("{}:{}", self.repository, version)
    }

    /// The port named `name`.
    pub fn port(&self, name: &str) -> Option<CatalogPort> {
        self.ports.iter().copied().find(|p| p.name == name)
    }
}

/// Every catalog type, ordered by name.
pub static ENTRIES: &[CatalogEntry] = &[
    vector::CHROMA,
    analytics::CLICKHOUSE,
    search::ELASTICSEARCH,
    observability::GRAFANA,
    observability::JAEGER,
    messaging::KAFKA,
    cache::KEYDB,
    storage::MINIO,
    document::MONGODB,
    messaging::NATS,
    graph::NEO4J,
    ai::OLLAMA,
    search::OPENSEARCH,
    observability::OTEL_COLLECTOR,
    postgres::PGVECTOR,
    postgres::POSTGRES,
    observability::PROMETHEUS,
    vector::QDRANT,
    messaging::RABBITMQ,
    cache::REDIS,
    postgres::TIMESCALEDB,
    cache::VALKEY,
    s3gateway::VERSITYGW,
    vector::WEAVIATE,
];

/// The catalog entry for `type_name`.
pub fn lookup(type_name: &str) -> Option<&'static CatalogEntry> {
    ENTRIES.iter().find(|e| e.type_name == type_name)
}

/// All type names, for "did you mean" hints and listings.
pub fn type_names() -> impl Iterator<Item = &'static str> {
    ENTRIES.iter().map(|e| e.type_name)
}

#[cfg(test)]
mod tests;
