//! Comparing two normalized readings aspect by aspect, naming the documented differences.

use std::collections::{BTreeMap, BTreeSet};

use crate::{NormService, Normalized, Report, Row, Verdict};

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
        let outside_only = outside_only.contains(name);
        rows.extend(
            service_verdicts(k, d, outside_only)
                .into_iter()
                .map(|(aspect, verdict)| Row {
                    service: name.clone(),
                    aspect,
                    verdict,
                }),
        );
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

/// One verdict per aspect of a service present on both sides.
fn service_verdicts(
    k: &NormService,
    d: &NormService,
    outside_only: bool,
) -> Vec<(&'static str, Verdict)> {
    let mut verdicts = Vec::new();
    let mut push = |aspect: &'static str, verdict: Verdict| verdicts.push((aspect, verdict));
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
    let health = if outside_only && k.health.is_some() && d.health.is_none() {
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
    verdicts.extend(storage_and_security_verdicts(k, d));
    verdicts
}

/// The verdicts on resources, volumes, mounts, files, security and replicas.
fn storage_and_security_verdicts(k: &NormService, d: &NormService) -> Vec<(&'static str, Verdict)> {
    let mut verdicts = Vec::new();
    let mut push = |aspect: &'static str, verdict: Verdict| verdicts.push((aspect, verdict));
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
    let mount_note = devloop_note(&k.host_mounts);
    push(
        "mounts",
        same_or(&k.host_mounts, &d.host_mounts, mount_note),
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
    verdicts
}

/// The documented difference of host mounts and sync directories, when a service has any.
fn devloop_note(mounts: &BTreeMap<String, String>) -> Option<String> {
    (!mounts.is_empty()).then(|| {
        "bind mounts in compose; in kubernetes a hostPath (mounts, where the operator's allow-list permits) or an emptyDir that devstack dev fills through the exec API (sync)".to_string()
    })
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
