//! The operator's memory of what it has seen hold: per object of the stack's kinds, the
//! version at which the operator last saw it hold what it wanted (right after its own apply
//! returned, or after a comparison of the full object matched) and the desired hash it held
//! then.
//!
//! The watch caches of Services, NetworkPolicies and ConfigMaps hold metadata only, and those
//! of the workloads hold no pod template ([`super::cache`]): a reconcile cannot compare such
//! an object field by field. It does not need to while the object is at the version recorded
//! here: nobody changed it since the operator saw it hold what it wants, and if the desired
//! hash is still the same, neither did what it wants. An object whose version moved is read
//! by name (GET) before the comparison ([`super::observe`]); one at its recorded version is not.
//!
//! The version is the resourceVersion, but for Deployments and StatefulSets the uid and the
//! generation: their status moves the resourceVersion at every step of a rollout, while only
//! a change of their spec moves the generation (a change of their labels or annotations is
//! seen in the metadata the cache keeps, [`Verified::holds`]). Entries are dropped when the
//! watch reports the object deleted, so nothing is kept for objects that are gone.
//!
//! Each entry is kept as fingerprints (the first 8 bytes of a SHA-256, 4 for the kind and the
//! namespace): the object's kind, namespace and name as the key, its version and desired hash
//! as the value — 32 bytes an object instead of five strings (≈ 350 bytes). With 64 bits, two
//! versions of one object are taken for each other once in 2⁶⁴ comparisons; two keys of a
//! million objects collide with odds of 1 in 3.7 · 10⁷, and then one object's entry is
//! replaced by the other's, which costs a read, never a skipped write (the versions differ).
//! A kind or namespace fingerprint only says which entries a complete list may drop: a
//! collision drops too many, which also costs reads only.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::ANNOTATION_DESIRED_HASH;

/// What is recorded of one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Fingerprint of the kind.
    kind: u32,
    /// Fingerprint of the namespace.
    namespace: u32,
    /// Fingerprint of the version.
    pub version: u64,
    /// Fingerprint of the desired hash.
    pub hash: u64,
}

/// The version and desired hash each object was last seen holding, by the fingerprint of its
/// kind, namespace and name.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    seen: Mutex<HashMap<u64, Entry>>,
}

/// The first 8 bytes of the SHA-256 of `parts`, each ended by a NUL.
pub(crate) fn fingerprint(parts: &[&str]) -> u64 {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        context.update(part.as_bytes());
        context.update(&[0]);
    }
    let digest = context.finish();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(bytes)
}

fn short(part: &str) -> u32 {
    // The high half of the fingerprint.
    (fingerprint(&[part]) >> 32) as u32
}

/// The version of an object of `kind` with `meta` (see the module documentation); `None` when
/// the object carries none (never recorded, always read).
pub(crate) fn version(kind: &str, meta: &ObjectMeta) -> Option<String> {
    match kind {
        "Deployment" | "StatefulSet" => {
            Some(format!("{}/{}", meta.uid.as_deref()?, meta.generation?))
        }
        _ => meta.resource_version.clone(),
    }
}

fn key(kind: &str, namespace: &str, name: &str) -> u64 {
    fingerprint(&[kind, namespace, name])
}

fn key_of(kind: &str, meta: &ObjectMeta) -> u64 {
    key(
        kind,
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl Verified {
    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that the object of `kind` with `meta` holds what the operator wants, whose
    /// desired hash is `hash`.
    pub(crate) fn saw(&self, kind: &str, meta: &ObjectMeta, hash: &str) {
        if let Some(version) = version(kind, meta) {
            let entry = Entry {
                kind: short(kind),
                namespace: short(meta.namespace.as_deref().unwrap_or_default()),
                version: fingerprint(&[&version]),
                hash: fingerprint(&[hash]),
            };
            self.seen().insert(key_of(kind, meta), entry);
        }
    }

    /// Whether the object of `kind` with `meta` is at the version it was last seen holding
    /// what the operator wanted (whatever that was).
    pub(crate) fn unchanged(&self, kind: &str, meta: &ObjectMeta) -> bool {
        let Some(version) = version(kind, meta) else {
            return false;
        };
        let version = fingerprint(&[&version]);
        self.seen()
            .get(&key_of(kind, meta))
            .is_some_and(|e| e.version == version)
    }

    /// Whether the object of `kind` with `meta` still holds what the operator wants now
    /// (desired hash `hash`): unchanged since it was seen holding that hash, and its
    /// annotation says so too.
    pub(crate) fn holds(&self, kind: &str, meta: &ObjectMeta, hash: &str) -> bool {
        let Some(version) = version(kind, meta) else {
            return false;
        };
        let annotated = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_DESIRED_HASH))
            .is_some_and(|h| h == hash);
        let (version, hash) = (fingerprint(&[&version]), fingerprint(&[hash]));
        annotated
            && self
                .seen()
                .get(&key_of(kind, meta))
                .is_some_and(|e| e.version == version && e.hash == hash)
    }

    /// What is recorded of the object of `kind` `namespace`/`name`, if anything.
    pub(crate) fn entry(&self, kind: &str, namespace: &str, name: &str) -> Option<Entry> {
        self.seen().get(&key(kind, namespace, name)).copied()
    }

    /// Forgets the object of `kind` `namespace`/`name` (deleted).
    pub(crate) fn forget(&self, kind: &str, meta: &ObjectMeta) {
        self.seen().remove(&key_of(kind, meta));
    }

    /// Forgets the objects of `kind` in `namespace` (`None`: every namespace) that a complete
    /// list of them, `listed` (`(namespace, name)`), no longer holds.
    pub(crate) fn retain_listed(
        &self,
        kind: &str,
        namespace: Option<&str>,
        listed: &HashSet<(String, String)>,
    ) {
        let listed: HashSet<u64> = listed
            .iter()
            .map(|(ns, name)| key(kind, ns, name))
            .collect();
        let (kind, namespace) = (short(kind), namespace.map(short));
        self.seen().retain(|key, e| {
            e.kind != kind || namespace.is_some_and(|n| n != e.namespace) || listed.contains(key)
        });
    }

    /// Forgets everything (an operator restart).
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        self.seen().clear();
    }

    /// How many objects are recorded.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(rv: &str, generation: i64, hash: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some("api".into()),
            namespace: Some("ns".into()),
            uid: Some("u1".into()),
            resource_version: Some(rv.into()),
            generation: Some(generation),
            annotations: Some([(ANNOTATION_DESIRED_HASH.to_string(), hash.to_string())].into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_moved_version_or_a_new_wish_is_not_held() {
        let verified = Verified::default();
        verified.saw("Service", &meta("5", 1, "h1"), "h1");
        assert!(verified.holds("Service", &meta("5", 1, "h1"), "h1"));
        assert!(
            !verified.holds("Service", &meta("6", 1, "h1"), "h1"),
            "edited"
        );
        assert!(
            !verified.holds("Service", &meta("5", 1, "h1"), "h2"),
            "new wish"
        );
        assert!(
            !verified.holds("Secret", &meta("5", 1, "h1"), "h1"),
            "other kind"
        );
        // A workload's status moves its resourceVersion, not its generation.
        verified.saw("Deployment", &meta("5", 1, "h1"), "h1");
        assert!(verified.holds("Deployment", &meta("9", 1, "h1"), "h1"));
        assert!(!verified.holds("Deployment", &meta("9", 2, "h1"), "h1"));
        assert!(verified.unchanged("Deployment", &meta("9", 1, "h1")));
        verified.forget("Deployment", &meta("9", 1, "h1"));
        assert!(!verified.unchanged("Deployment", &meta("9", 1, "h1")));
        assert_eq!(verified.len(), 1);
    }
}
