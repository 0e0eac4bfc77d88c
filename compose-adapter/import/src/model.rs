//! The subset of the Compose model that `docker compose config --format json` prints and the
//! importer reads. Compose has already merged overlays, interpolated `.env` / `env_file`,
//! applied profiles and normalised short syntax to long syntax, so every field here has one
//! shape. Keys the importer does not read land in `other` (kept as JSON values) so the loss
//! report can name each of them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// A whole Compose project.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Project {
    /// Project name (Compose defaults it to the directory name).
    #[serde(default)]
    pub name: String,
    /// Services by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Top-level networks.
    #[serde(default)]
    pub networks: BTreeMap<String, Value>,
    /// Top-level named volumes.
    #[serde(default)]
    pub volumes: BTreeMap<String, Value>,
    /// Top-level configs.
    #[serde(default)]
    pub configs: BTreeMap<String, Value>,
    /// Top-level secrets.
    #[serde(default)]
    pub secrets: BTreeMap<String, Value>,
    /// Every other top-level key (`x-*` extensions among them).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One service, in Compose's long syntax.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Service {
    /// Image reference.
    #[serde(default)]
    pub image: Option<String>,
    /// Build section (`context`, `dockerfile`, `target`, `args`).
    #[serde(default)]
    pub build: Option<Value>,
    /// Entrypoint override.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Command (arguments).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Environment (`env_file` already merged in); `null` for a variable Compose left unset.
    #[serde(default)]
    pub environment: BTreeMap<String, Option<String>>,
    /// Published and container ports.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Container ports that are not published.
    #[serde(default)]
    pub expose: Vec<Value>,
    /// Health check.
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    /// Start order with conditions.
    #[serde(default)]
    pub depends_on: BTreeMap<String, DependsOn>,
    /// Profiles that enable the service.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// `deploy` section.
    #[serde(default)]
    pub deploy: Option<Deploy>,
    /// Networks the service joins (`null` values: no options).
    #[serde(default)]
    pub networks: Option<BTreeMap<String, Value>>,
    /// Volume and bind mounts.
    #[serde(default)]
    pub volumes: Vec<Mount>,
    /// Configs mounted into the service.
    #[serde(default)]
    pub configs: Vec<Value>,
    /// Secrets mounted into the service.
    #[serde(default)]
    pub secrets: Vec<Value>,
    /// Every other key.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A port in long syntax.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Port {
    /// Container port.
    pub target: u16,
    /// Host port (a number as text, possibly a range `8000-8010`).
    #[serde(default)]
    pub published: Option<String>,
    /// Host address.
    #[serde(default)]
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    #[serde(default)]
    pub protocol: Option<String>,
}

/// A health check.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", script]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    /// Go duration (`1m30s`).
    #[serde(default)]
    pub interval: Option<String>,
    /// Go duration.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Go duration.
    #[serde(default)]
    pub start_period: Option<String>,
    /// Go duration.
    #[serde(default)]
    pub start_interval: Option<String>,
    /// Consecutive failures.
    #[serde(default)]
    pub retries: Option<u64>,
    /// `disable: true`.
    #[serde(default)]
    pub disable: Option<bool>,
}

/// One `depends_on` entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DependsOn {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    #[serde(default)]
    pub condition: Option<String>,
    /// Whether the dependency must exist (default true).
    #[serde(default)]
    pub required: Option<bool>,
    /// Restart the dependent when the dependency restarts.
    #[serde(default)]
    pub restart: Option<bool>,
}

/// The `deploy` section.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Deploy {
    /// Replicas.
    #[serde(default)]
    pub replicas: Option<i64>,
    /// Limits and reservations.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// Every other key (`placement`, `restart_policy`, …).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `deploy.resources`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resources {
    /// Upper bounds.
    #[serde(default)]
    pub limits: Option<Amounts>,
    /// Reservations (requests).
    #[serde(default)]
    pub reservations: Option<Amounts>,
}

/// CPU, memory and devices of `limits` or `reservations`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Amounts {
    /// CPUs: a number (or a numeric string).
    #[serde(default)]
    pub cpus: Option<Value>,
    /// Memory in bytes (Compose normalises to a byte count as text).
    #[serde(default)]
    pub memory: Option<Value>,
    /// Device reservations (GPUs).
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Every other key (`pids`).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// A device reservation.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Device {
    /// Capabilities (`gpu`).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// A number or `all`.
    #[serde(default)]
    pub count: Option<Value>,
    /// Specific device ids.
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Driver (`nvidia`).
    #[serde(default)]
    pub driver: Option<String>,
}

/// A mount in long syntax.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Mount {
    /// `volume`, `bind`, `tmpfs`, `npipe`, `image`, `cluster`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Volume name or host path.
    #[serde(default)]
    pub source: Option<String>,
    /// Path in the container.
    #[serde(default)]
    pub target: String,
    /// Read-only mount.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Every other key (`bind`, `volume` options, `consistency`).
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Service {
    /// Whether the service joins only the project's `default` network (or says nothing).
    pub fn networks_or_default(&self) -> Vec<String> {
        match &self.networks {
            Some(n) if !n.is_empty() => n.keys().cloned().collect(),
            _ => vec!["default".to_string()],
        }
    }
}

/// Reads the JSON text `docker compose config --format json` printed. Compose prints values
/// still escaped for a Compose file (`$$` for a literal `$`); they are unescaped here, so the
/// stack holds what the container sees.
pub fn parse(json: &str) -> Result<Project, serde_json::Error> {
    let mut value: Value = serde_json::from_str(json)?;
    unescape(&mut value);
    serde_json::from_value(value)
}

fn unescape(value: &mut Value) {
    match value {
        Value::String(s) if s.contains("$$") => *s = s.replace("$$", "$"),
        Value::Array(items) => items.iter_mut().for_each(unescape),
        Value::Object(map) => map.values_mut().for_each(unescape),
        _ => {}
    }
}
