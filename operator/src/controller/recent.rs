//! Workloads this operator created moments ago: a pass that follows the one that created a
//! workload at once (woken by another object of the stack) can run before the workload's own
//! watch event reached the cache. Without this memory it created the workload again: a POST
//! that fails (409), a read by name, the object taken as read — two requests for nothing
//! (issue 21, K2: up to 0.6 per stack under load). Now such a workload counts as just created
//! (not ready) and nothing is sent; its watch event wakes the stack's next pass anyway.
//!
//! An entry is used once and only within [`WINDOW`] of the create, so a workload deleted
//! meanwhile (by hand, before the cache saw it) is created again by the pass after.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after its create a workload absent from the cache counts as just created.
pub(crate) const WINDOW: Duration = Duration::from_secs(5);

/// `(kind, namespace, name)`.
type Key = (String, String, String);

/// The workloads created in the last [`WINDOW`] that no pass has found in the cache yet.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    created: Mutex<HashMap<Key, Instant>>,
}

fn key(kind: &str, namespace: &str, name: &str) -> Key {
    (kind.to_string(), namespace.to_string(), name.to_string())
}

impl Recent {
    fn created_map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the create of `kind` `namespace/name` now.
    pub(crate) fn created(&self, kind: &str, namespace: &str, name: &str) {
        self.created_at(kind, namespace, name, Instant::now());
    }

    fn created_at(&self, kind: &str, namespace: &str, name: &str, now: Instant) {
        let mut created = self.created_map();
        // Entries of workloads no pass has looked for since go once they are too old.
        if created.len() >= 64 && created.len().is_power_of_two() {
            created.retain(|_, at| now.saturating_duration_since(*at) < WINDOW);
        }
        created.insert(key(kind, namespace, name), now);
    }

    /// The cache holds the workload: forgets it.
    pub(crate) fn seen(&self, kind: &str, namespace: &str, name: &str) {
        let mut created = self.created_map();
        if !created.is_empty() {
            created.remove(&key(kind, namespace, name));
        }
    }

    /// Whether `kind` `namespace/name`, absent from the cache, was created within [`WINDOW`];
    /// forgets it either way (asked once).
    pub(crate) fn take(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.take_at(kind, namespace, name, Instant::now())
    }

    fn take_at(&self, kind: &str, namespace: &str, name: &str, now: Instant) -> bool {
        let at = self.created_map().remove(&key(kind, namespace, name));
        at.is_some_and(|at| now.saturating_duration_since(at) < WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_counts_once_and_only_within_the_window() {
        let recent = Recent::default();
        let t0 = Instant::now();
        recent.created_at("Deployment", "ns", "api", t0);
        assert!(recent.take_at("Deployment", "ns", "api", t0 + Duration::from_millis(50)));
        assert!(!recent.take_at("Deployment", "ns", "api", t0 + Duration::from_millis(60)));
        recent.created_at("Deployment", "ns", "api", t0);
        assert!(!recent.take_at("Deployment", "ns", "api", t0 + WINDOW));
        recent.created_at("Deployment", "ns", "api", t0);
        recent.seen("Deployment", "ns", "api");
        assert!(!recent.take_at("Deployment", "ns", "api", t0));
        assert!(!recent.take_at("StatefulSet", "ns", "api", t0));
    }

    #[test]
    fn old_entries_go() {
        let recent = Recent::default();
        let t0 = Instant::now();
        for i in 0..63 {
            recent.created_at("Deployment", "ns", &format!("w{i}"), t0);
        }
        recent.created_at("Deployment", "ns", "w63", t0);
        recent.created_at("Deployment", "ns", "late", t0 + WINDOW);
        assert_eq!(recent.created_map().len(), 1);
    }
}
