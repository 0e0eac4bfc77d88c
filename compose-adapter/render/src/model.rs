//! A small, typed model of the Compose specification: only the fields devstack renders.
//!
//! Field order in the structs is the key order in the YAML; maps are [`BTreeMap`]s (sorted)
//! except [`OrderedMap`], which keeps the plan's order (the environment). Empty fields are
//! left out.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::spelling::{Cpus, Memory, PublishedPort, Seconds};

/// A Compose project (the whole file).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Project {
    /// Project name.
    pub name: String,
    /// Services by name.
    pub services: BTreeMap<String, Service>,
    /// Networks by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    /// Named volumes by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
}

/// One service.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Service {
    /// Image reference.
    pub image: String,
    /// How `docker compose build` builds the image (services with `build`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<crate::devloop::Build>,
    /// Profiles that enable the service (empty: always enabled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// `uid[:gid]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Entrypoint override.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Command (arguments to the entrypoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Environment, in plan order.
    #[serde(skip_serializing_if = "OrderedMap::is_empty")]
    pub environment: OrderedMap,
    /// Published ports (`127.0.0.1:host:container`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PublishedPort>,
    /// Container ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    /// Health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Start order.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub depends_on: BTreeMap<String, DependsOn>,
    /// Networks the service joins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Volume mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,
    /// Read-only root filesystem.
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// tmpfs mounts (writable paths on a read-only root).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Capabilities dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Capabilities added back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Security options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// Replicas and resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Container labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
}

/// A health check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `["CMD", argv…]` or `["CMD-SHELL", script]`.
    pub test: Vec<String>,
    /// Time between checks (`10s`).
    pub interval: Seconds,
    /// Time before a check counts as failed.
    pub timeout: Seconds,
    /// Consecutive failures before unhealthy.
    pub retries: u32,
    /// Grace period after start.
    pub start_period: Seconds,
    /// Time between checks during the start period, until the first success (Docker Engine 25
    /// and later; absent: `interval`). See [`crate::health::with_start_interval`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Seconds>,
}

/// When a dependency counts as started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency's health check passes.
    ServiceHealthy,
    /// The dependency's container started (it has no health check).
    ServiceStarted,
}

/// One `depends_on` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DependsOn {
    /// What to wait for.
    pub condition: Condition,
    /// Fail instead of skipping when the dependency is missing.
    pub required: bool,
}

/// A volume mount in long syntax (no `:` parsing ambiguity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// `volume` (a named volume) or `bind` (a file of the service's `files`, a host `mounts`
    /// path or a `sync` directory).
    #[serde(rename = "type")]
    pub kind: String,
    /// Named volume, or the host path of a bind mount.
    pub source: String,
    /// Mount path in the container.
    pub target: String,
    /// Mounted read-only (the files, `readOnly` mounts).
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// `deploy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Deploy {
    /// Replica count (left out for 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Limits and reservations.
    pub resources: Resources,
}

/// `deploy.resources`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    /// Upper bounds.
    pub limits: Limits,
    /// Guaranteed amounts (the Kubernetes requests).
    pub reservations: Reservations,
}

/// `deploy.resources.limits`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// CPUs as a decimal (`0.25`).
    pub cpus: Cpus,
    /// Memory (`256m`, binary units).
    pub memory: Memory,
}

/// `deploy.resources.reservations`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reservations {
    /// CPUs as a decimal.
    pub cpus: Cpus,
    /// Memory (binary units).
    pub memory: Memory,
    /// Device requests (GPUs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

/// A device request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Device driver (`nvidia`).
    pub driver: String,
    /// How many devices.
    pub count: u32,
    /// Required capabilities (`gpu`).
    pub capabilities: Vec<String>,
}

/// A top-level network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A top-level named volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A string map that keeps insertion order (Compose `environment` in plan order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderedMap(pub Vec<(String, String)>);

impl OrderedMap {
    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for OrderedMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}
