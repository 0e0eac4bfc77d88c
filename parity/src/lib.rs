//! Parity: render a plan both ways, read both renderings back into one normalized form, and
//! compare service by service. Secrets are rendered as markers (`@@secret:ID@@`) so values can
//! be compared without real credentials; Kubernetes host names (`x.<ns>.svc`) are shortened to
//! the Compose name, which is the documented DNS difference.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::plan::StackPlan;
use devstack_core::quantity;
use k8s_openapi::api::core::v1::Probe;
use serde::Serialize;

pub mod cluster;
mod compare;
mod compose;
mod files;
mod k8s;
pub mod live;
mod live_files;
mod markers;

pub(crate) use compare::as_live_check;
pub use compare::compare;
pub use markers::{replace_secret_values, secret_marker, secret_markers};

/// Why parity could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    /// The Kubernetes renderer failed.
    #[error("kubernetes rendering")]
    K8s(#[from] devstack_render_k8s::RenderError),
    /// The Compose renderer failed.
    #[error("compose rendering")]
    Compose(#[from] devstack_render_compose::RenderError),
    /// A rendering could not be read back.
    #[error("reading back the {mode} rendering: {message}")]
    ReadBack {
        /// `kubernetes` or `compose`.
        mode: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A rendering is not YAML the reader understands.
    #[error("reading back the {mode} rendering")]
    ReadYaml {
        /// `kubernetes` or `compose`.
        mode: &'static str,
        /// The reader's error.
        #[source]
        source: devstack_core::yaml::YamlError,
    },
    /// A rendered object does not read back as its kind.
    #[error("reading back the kubernetes rendering: {kind}")]
    ReadObject {
        /// The object's kind.
        kind: String,
        /// The reader's error.
        #[source]
        source: serde_json::Error,
    },
}

/// One service, as both renderings are compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormService {
    /// Image reference.
    pub image: String,
    /// Entrypoint override.
    pub command: Option<Vec<String>>,
    /// Arguments.
    pub args: Option<Vec<String>>,
    /// Environment, secrets as markers, host names shortened.
    pub env: BTreeMap<String, String>,
    /// Env keys whose whole value is a secret.
    pub secret_env: BTreeSet<String>,
    /// Container ports.
    pub ports: BTreeSet<u16>,
    /// Container port → host port.
    pub host_ports: BTreeMap<u16, u16>,
    /// Health check, described canonically.
    pub health: Option<String>,
    /// interval, timeout, retries, start grace (seconds, rounded up to whole intervals).
    pub health_timing: Option<[u32; 4]>,
    /// Services started (healthy) first.
    pub depends_on: BTreeSet<String>,
    /// Requested millicores and bytes.
    pub requests: [u64; 2],
    /// Limit millicores and bytes.
    pub limits: [u64; 2],
    /// GPUs.
    pub gpu: u32,
    /// Persisted path → size in bytes.
    pub volumes: BTreeMap<String, u64>,
    /// Writable paths on a read-only root.
    pub writable_paths: BTreeSet<String>,
    /// Host mounts and sync directories: container path → `ro` / `rw`.
    pub host_mounts: BTreeMap<String, String>,
    /// Container paths of the service's files (read-only mounts).
    pub files: BTreeSet<String>,
    /// Digest of the files' paths, modes and bytes.
    pub files_hash: Option<String>,
    /// uid:gid, when set.
    pub user: Option<String>,
    /// Dropped capabilities.
    pub cap_drop: BTreeSet<String>,
    /// Added capabilities.
    pub cap_add: BTreeSet<String>,
    /// No privilege escalation.
    pub no_new_privileges: bool,
    /// Read-only root filesystem.
    pub read_only_root: bool,
    /// Replicas.
    pub replicas: u32,
    /// How many env/arg values needed a host name shortened (the documented DNS difference).
    #[serde(skip)]
    pub dns_rewrites: usize,
}

/// A rendering read back.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Normalized {
    /// Active services.
    pub services: BTreeMap<String, NormService>,
    /// Pairs of services that can connect (undirected, sorted).
    pub reachability: BTreeSet<(String, String)>,
}

/// Verdict for one aspect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status", content = "detail")]
pub enum Verdict {
    /// Identical.
    Same,
    /// Identical in substance; the mechanism differs as documented.
    ByDesign(String),
    /// Different: a bug.
    Mismatch(String),
}

/// One row of the matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Service (or `*` for stack-wide aspects).
    pub service: String,
    /// What was compared.
    pub aspect: &'static str,
    /// Result.
    pub verdict: Verdict,
}

/// The parity matrix of a stack.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Stack name.
    pub stack: String,
    /// Every comparison.
    pub rows: Vec<Row>,
}

impl Report {
    /// Number of mismatches.
    pub fn mismatches(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Mismatch(_)))
            .count()
    }

    /// The matrix as text: one line per service with a column per aspect, then details.
    pub fn table(&self) -> String {
        let mut aspects: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !aspects.contains(&row.aspect) {
                aspects.push(row.aspect);
            }
        }
        let mut services: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !services.contains(&row.service.as_str()) {
                services.push(&row.service);
            }
        }
        let cell = |service: &str, aspect: &str| {
            self.rows
                .iter()
                .find(|r| r.service == service && r.aspect == aspect)
                .map(|r| match r.verdict {
                    Verdict::Same => "same",
                    Verdict::ByDesign(_) => "by-design",
                    Verdict::Mismatch(_) => "MISMATCH",
                })
                .unwrap_or("-")
        };
        let name_width = services.iter().map(|s| s.len()).max().unwrap_or(7).max(7);
        let mut out = format!(
            "parity of stack {:?}: kubernetes vs compose\n\n",
            self.stack
        );
        out.push_str(&format!("{:<name_width$}", "SERVICE"));
        for aspect in &aspects {
            out.push_str(&format!(
                "  {:<w$}",
                aspect.to_uppercase(),
                w = aspect.len().max(9)
            ));
        }
        out.push('\n');
        for service in &services {
            out.push_str(&format!("{service:<name_width$}"));
            for aspect in &aspects {
                out.push_str(&format!(
                    "  {:<w$}",
                    cell(service, aspect),
                    w = aspect.len().max(9)
                ));
            }
            out.push('\n');
        }
        let notes: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Same))
            .collect();
        if !notes.is_empty() {
            out.push('\n');
        }
        for row in notes {
            let (label, detail) = match &row.verdict {
                Verdict::ByDesign(d) => ("differs by design", d),
                Verdict::Mismatch(d) => ("MISMATCH", d),
                Verdict::Same => continue,
            };
            out.push_str(&format!(
                "{} {}: {label}: {detail}\n",
                row.service, row.aspect
            ));
        }
        out.push_str(&format!(
            "\n{} comparisons, {} mismatches\n",
            self.rows.len(),
            self.mismatches()
        ));
        out
    }
}

impl NormService {
    /// Records which env keys hold exactly one secret (computed the same way for both modes).
    pub(crate) fn mark_secret_env(&mut self) {
        self.secret_env = self
            .env
            .iter()
            .filter(|(_, v)| {
                v.starts_with("@@secret:")
                    && v.ends_with("@@")
                    && v.matches("@@secret:").count() == 1
            })
            .map(|(k, _)| k.clone())
            .collect();
    }
}

/// Renders `plan` both ways and compares the two readings.
pub fn check(plan: &StackPlan) -> Result<Report, ParityError> {
    let markers = secret_markers(plan);
    let objects = devstack_render_k8s::render(plan, Some(&markers))?;
    let stream = devstack_render_k8s::to_yaml_stream(&objects)?;
    let kube = k8s::read_back(&stream, plan)?;
    let yaml = devstack_render_compose::render(plan)?;
    let env = devstack_render_compose::env_file(plan, &markers)?;
    let docker = compose::read_back(&yaml, &env)?;
    let outside_only: BTreeSet<String> = plan
        .active_services()
        .filter(|s| s.health.is_some() && s.container_health().is_none())
        .map(|s| s.name.clone())
        .collect();
    Ok(compare(&plan.name, &kube, &docker, &outside_only))
}

/// Start grace rounded up to whole intervals, as both modes express it.
pub(crate) fn start_grace(start_period: u32, interval: u32) -> u32 {
    if interval == 0 {
        return start_period;
    }
    start_period.div_ceil(interval) * interval
}

/// A Kubernetes startup probe's start window in seconds (attempts × period).
pub(crate) fn startup_window(probe: Option<&Probe>, retries: u32, interval: u32) -> u32 {
    let get = |v: Option<i32>, default: u32| v.map_or(default, |v| v.max(0) as u32);
    let probe = probe.cloned().unwrap_or_default();
    get(probe.failure_threshold, retries).saturating_mul(get(probe.period_seconds, interval))
}

/// Parses a CPU amount in either spelling (Kubernetes quantity or Compose decimal).
pub(crate) fn cpu(text: &str) -> Option<u64> {
    quantity::cpu_millis(text).ok()
}

/// Sorted pair.
pub(crate) fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

#[cfg(test)]
mod tests;
