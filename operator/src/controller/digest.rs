//! The record of what the operator saw hold ([`super::verified`]), carried over a restart as
//! one digest in the DevStack's status (`status.observedObjects`).
//!
//! After a restart the record is empty, and every object the caches keep in part would be read
//! again before the first comparison (a LIST per kind with several objects of the stack). So
//! each status write carries a SHA-256 of the sorted `(kind, name, version, desired hash)` of
//! every rendered object but the Secrets (those are cached whole and compared whole), as
//! recorded after the pass's writes; none when one of them is not recorded (a workload held
//! back), and then the last digest stays. The version is the record's: the resourceVersion,
//! a workload's uid and generation (both kept as fingerprints, [`super::verified`]).
//!
//! A reconcile that finds an object of the stack not recorded at its cached version computes
//! the same digest from the caches (the version and the desired-hash annotation of every
//! object of the stack they hold). Equal: every one of them is at a version at which the
//! operator saw it hold what it wanted, with that hash — a fact about those versions, which
//! a write by anyone moves — so each is recorded again, and nothing is read. Different (an
//! object edited, added or deleted while the operator was down): the objects are read as
//! before ([`super::observe`]). Whether an object holds what the operator wants *now* is still
//! decided by the write path: a different desired hash, or metadata the cache shows changed,
//! is written. The price: when only the digest changed (a drift repaired, an object written
//! for a new wish whose status is otherwise the same), the pass writes the status once more.
//! An operator whose record keeps fingerprints of another width (before session 12: 128 bits)
//! wrote other digests: after such an upgrade each stack's objects are read once and its status
//! written once, as after a restart without a digest.

use std::collections::BTreeSet;
use std::fmt::Write;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::apply::Key;
use super::observe::{Observed, OwnedKind};
use super::verified::{self, Verified};
use super::ANNOTATION_DESIRED_HASH;

/// The kinds the digest covers: those whose caches keep them in part.
const KINDS: [&str; 5] = [
    "ConfigMap",
    "NetworkPolicy",
    "Service",
    "Deployment",
    "StatefulSet",
];

/// The digest of the rendered objects `keys` of `namespace` as `verified` records them; `None`
/// when one of them is not recorded.
pub(crate) fn of_record(
    verified: &Verified,
    namespace: &str,
    keys: &BTreeSet<Key>,
) -> Option<String> {
    let mut lines = BTreeSet::new();
    for (kind, name) in keys.iter().filter(|(k, _)| KINDS.contains(&k.as_str())) {
        let entry = verified.entry(kind, namespace, name)?;
        lines.insert(line(kind, name, entry.version, entry.hash));
    }
    Some(sha256(&lines))
}

/// Records every object of `observed` (read from the caches) as holding its desired-hash
/// annotation when the digest of what the caches show equals `digest` (the stack's
/// `status.observedObjects`), unless each is recorded at its version already. Returns whether
/// it recorded them.
pub(crate) fn restore(observed: &Observed, digest: Option<&str>, verified: &Verified) -> bool {
    let Some(digest) = digest else {
        return false;
    };
    let mut objects = Vec::new();
    collect::<ConfigMap>(observed, &mut objects);
    collect::<NetworkPolicy>(observed, &mut objects);
    collect::<Service>(observed, &mut objects);
    collect::<Deployment>(observed, &mut objects);
    collect::<StatefulSet>(observed, &mut objects);
    if objects
        .iter()
        .all(|(kind, meta)| verified.unchanged(kind, meta))
    {
        return false;
    }
    let mut lines = BTreeSet::new();
    let mut held = Vec::with_capacity(objects.len());
    for (kind, meta) in objects {
        let (Some(version), Some(hash)) = (verified::version(kind, meta), desired_hash(meta))
        else {
            return false;
        };
        let name = meta.name.as_deref().unwrap_or_default();
        let (version, fingerprint) = (
            verified::fingerprint(&[&version]),
            verified::fingerprint(&[hash]),
        );
        lines.insert(line(kind, name, version, fingerprint));
        held.push((kind, meta, hash));
    }
    if sha256(&lines) != digest {
        return false;
    }
    for (kind, meta, hash) in held {
        verified.saw(kind, meta, hash);
    }
    true
}

fn collect<'o, K: OwnedKind>(
    observed: &'o Observed,
    out: &mut Vec<(&'static str, &'o ObjectMeta)>,
) {
    let kind = KINDS
        .iter()
        .find(|k| **k == K::kind(&()))
        .copied()
        .unwrap_or_default();
    out.extend(observed.all::<K>().values().map(|o| (kind, o.meta())));
}

fn desired_hash(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()?
        .get(ANNOTATION_DESIRED_HASH)
        .map(String::as_str)
}

/// One object's line: `version` and `hash` are the record's fingerprints.
fn line(kind: &str, name: &str, version: u64, hash: u64) -> String {
    format!("{kind}\t{name}\t{version:016x}\t{hash:016x}\n")
}

fn sha256(lines: &BTreeSet<String>) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for line in lines {
        context.update(line.as_bytes());
    }
    context
        .finish()
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}
