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
mod compose;
mod files;
mod k8s;
pub mod live;
mod live_files;
mod markers;

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

/// Compares two readings. `outside_only` names the services whose health check only the
/// kubelet can run (no shell in the image): Compose has no healthcheck for them by design.
pub fn compare(
    stack: &str,
    kube: &Normalized,
    docker: &Normalized,
    outside_only: &BTreeSet<String>,
) -> Report {
    let mut rows = Vec::new();
    let names: BTreeSet<&String> = kube.services.keys().chain(docker.services.keys()).collect();
    for name in names {
        let (k, d) = match (kube.services.get(name), docker.services.get(name)) {
            (Some(k), Some(d)) => (k, d),
            (k, _) => {
                let detail = if k.is_some() {
                    "runs in kubernetes, not active in compose"
                } else {
                    "active in compose, not rendered for kubernetes"
                };
                rows.push(Row {
                    service: name.clone(),
                    aspect: "active",
                    verdict: Verdict::Mismatch(detail.to_string()),
                });
                continue;
            }
        };
        let mut push = |aspect: &'static str, verdict: Verdict| {
            rows.push(Row {
                service: name.clone(),
                aspect,
                verdict,
            })
        };
        push("image", same_or(&k.image, &d.image, None));
        push(
            "command",
            same_or(&(&k.command, &k.args), &(&d.command, &d.args), None),
        );
        let dns = (k.dns_rewrites > 0).then(|| {
            format!(
                "{} values name hosts: <svc>.<namespace>.svc in kubernetes, <svc> in compose",
                k.dns_rewrites
            )
        });
        push("env", env_verdict(&k.env, &d.env, dns));
        push("secrets", same_or(&k.secret_env, &d.secret_env, None));
        push("ports", same_or(&k.ports, &d.ports, None));
        let host_note = (!k.host_ports.is_empty())
            .then(|| "published as 127.0.0.1:<host> in compose, as a NodePort (Kind extraPortMappings) in kubernetes".to_string());
        push(
            "host-ports",
            same_or(&k.host_ports, &d.host_ports, host_note),
        );
        let health = if outside_only.contains(name) && k.health.is_some() && d.health.is_none() {
            Verdict::ByDesign(
                "the image has no shell: the kubelet probes it, compose cannot; dependents wait for service_started"
                    .to_string(),
            )
        } else {
            same_or(
                &(&k.health, &k.health_timing),
                &(&d.health, &d.health_timing),
                None,
            )
        };
        push("health", health);
        push("order", same_or(&k.depends_on, &d.depends_on, None));
        push(
            "resources",
            same_or(
                &(k.requests, k.limits, k.gpu),
                &(d.requests, d.limits, d.gpu),
                None,
            ),
        );
        let volume_note = (!k.volumes.is_empty()).then(|| {
            "size is a PVC request in kubernetes, a label on the Docker volume (not enforced)"
                .to_string()
        });
        push(
            "volumes",
            same_or(
                &(&k.volumes, &k.writable_paths),
                &(&d.volumes, &d.writable_paths),
                volume_note,
            ),
        );
        push(
            "files",
            same_or(&(&k.files, &k.files_hash), &(&d.files, &d.files_hash), None),
        );
        push(
            "security",
            same_or(
                &(
                    &k.user,
                    &k.cap_drop,
                    &k.cap_add,
                    k.no_new_privileges,
                    k.read_only_root,
                ),
                &(
                    &d.user,
                    &d.cap_drop,
                    &d.cap_add,
                    d.no_new_privileges,
                    d.read_only_root,
                ),
                None,
            ),
        );
        let replica_note = (k.replicas > 1).then(|| {
            "replicas are scheduled by kubernetes, started side by side by compose".to_string()
        });
        push("replicas", same_or(&k.replicas, &d.replicas, replica_note));
    }
    let reach_note = (!kube.reachability.is_empty()).then(|| {
        "NetworkPolicies admit only the dependent's connections; compose networks are symmetric"
            .to_string()
    });
    rows.push(Row {
        service: "*".to_string(),
        aspect: "reachability",
        verdict: same_or(&kube.reachability, &docker.reachability, reach_note),
    });
    Report {
        stack: stack.to_string(),
        rows,
    }
}

/// A live check compares one runtime with its own rendering through [`compare`], whose two
/// sides are named kubernetes and compose. This renames them to `rendered` and `live_side` in
/// every mismatch, and makes every other row `Same` unless `by_design` notes it: the
/// differences between the runtimes do not apply when both sides are the same runtime.
pub(crate) fn as_live_check(
    report: &mut Report,
    live_side: &str,
    by_design: impl Fn(&Row) -> Option<String>,
) {
    for row in &mut report.rows {
        row.verdict = match std::mem::replace(&mut row.verdict, Verdict::Same) {
            Verdict::Mismatch(detail) => {
                Verdict::Mismatch(detail.replacen("kubernetes ", "rendered ", 1).replacen(
                    " vs compose ",
                    &format!(" vs {live_side} "),
                    1,
                ))
            }
            _ => by_design(row).map_or(Verdict::Same, Verdict::ByDesign),
        };
    }
}

fn same_or<T: PartialEq + std::fmt::Debug>(k: &T, d: &T, by_design: Option<String>) -> Verdict {
    if k != d {
        Verdict::Mismatch(format!("kubernetes {k:?} vs compose {d:?}"))
    } else if let Some(note) = by_design {
        Verdict::ByDesign(note)
    } else {
        Verdict::Same
    }
}

/// Like [`same_or`] for env maps, but a mismatch names the keys that differ and never a value:
/// a value may be a secret (a live container's env holds the real passwords).
fn env_verdict(
    k: &BTreeMap<String, String>,
    d: &BTreeMap<String, String>,
    by_design: Option<String>,
) -> Verdict {
    if k == d {
        return by_design.map_or(Verdict::Same, Verdict::ByDesign);
    }
    let keys = |pick: &dyn Fn(&String) -> bool, from: &BTreeMap<String, String>| {
        from.keys()
            .filter(|key| pick(key))
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    for (label, list) in [
        ("only on the left", keys(&|key| !d.contains_key(key), k)),
        ("only on the right", keys(&|key| !k.contains_key(key), d)),
        (
            "different values",
            keys(&|key| d.get(key).is_some_and(|v| Some(v) != k.get(key)), d),
        ),
    ] {
        if !list.is_empty() {
            parts.push(format!("{label}: {list}"));
        }
    }
    Verdict::Mismatch(format!(
        "kubernetes env vs compose env: {} (values not shown: they may be secrets)",
        parts.join("; ")
    ))
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
