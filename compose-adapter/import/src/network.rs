//! Networks → isolation. Compose connects two services when they share a network; the default
//! project network holds every service, so most files mean "everyone reaches everyone", which
//! is `isolation: open`, exactly. When the file's networks connect exactly the pairs that
//! `depends_on` links, `isolation: strict` (one edge per dependency) is exact too and is
//! chosen. Anything else becomes `open`, which keeps every connection of the file working and
//! loses its segmentation, reported with the pairs that could not reach each other before.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::types::Isolation;

use crate::loss::LossReport;
use crate::model::Project;

/// The isolation for `project`, and the reason (for the report and `docs/import.md`).
pub fn isolation(project: &Project, report: &mut LossReport) -> (Isolation, String) {
    let names: Vec<&String> = project.services.keys().collect();
    let mut members: BTreeMap<&String, Vec<String>> = BTreeMap::new();
    for (name, svc) in &project.services {
        if let Some(mode) = svc.other.get("network_mode").and_then(|v| v.as_str()) {
            if mode != "bridge" {
                continue;
            }
        }
        members.insert(name, svc.networks_or_default());
    }
    let mut reach: BTreeSet<(String, String)> = BTreeSet::new();
    let mut all: BTreeSet<(String, String)> = BTreeSet::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let pair = ((*a).clone(), (*b).clone());
            all.insert(pair.clone());
            let shared = match (members.get(a), members.get(b)) {
                (Some(x), Some(y)) => x.iter().any(|n| y.contains(n)),
                _ => false,
            };
            if shared {
                reach.insert(pair);
            }
        }
    }
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for (name, svc) in &project.services {
        for dep in svc.depends_on.keys() {
            let pair = if name < dep {
                (name.clone(), dep.clone())
            } else {
                (dep.clone(), name.clone())
            };
            edges.insert(pair);
        }
    }
    if reach == all {
        return (
            Isolation::Open,
            "every service shares a network: everyone reaches everyone (isolation: open, exact)"
                .into(),
        );
    }
    if reach == edges {
        return (
            Isolation::Strict,
            "the networks connect exactly the depends_on pairs (isolation: strict, exact)".into(),
        );
    }
    let cut: Vec<String> = all
        .difference(&reach)
        .map(|(a, b)| format!("{a}-{b}"))
        .collect();
    report.add(
        None,
        "networks",
        crate::loss::LossKind::Changed,
        format!(
            "the networks segment services in a way dependsOn cannot say: isolation: open, so {} can now connect",
            cut.join(", ")
        ),
        "add dependsOn edges for every pair that must connect and set isolation: strict",
    );
    (Isolation::Open, "the networks segment services differently from depends_on: isolation: open keeps every connection working (segmentation reported)".into())
}
