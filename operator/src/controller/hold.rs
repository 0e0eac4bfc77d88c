//! Status writes of a progressing stack, coalesced: a status that differs from the one on the
//! DevStack only in how far its services have come (a service turned ready, or from `waiting
//! for db` to `starting`; the ready count; the progress message of `Ready`/`Reconciling`) waits
//! at most [`HOLD`], and the reconcile comes back when it is due ([`Holds::hold`] says when),
//! so it is never lost: the next pass writes the status as it then stands, with every
//! transition of that second in one write. Everything else is written at once: the first
//! status of a generation, `Ready` (the clock of K1 and of `kubectl wait` stops there), a
//! failure, `Stalled`, pods that cannot be created, a changed endpoint, image or port.
//!
//! Without it, a 5-service stack's status was written about 6 times over its rollout (each
//! workload turning Ready is its own pass), ≈ 6 of the ≈ 35 requests per stack (issue 21, K2).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use devstack_core::types::{DevStack, DevStackStatus};
use kube::ResourceExt;

/// The longest a progressing stack's status waits.
pub(crate) const HOLD: Duration = Duration::from_secs(1);

/// The stacks whose status waits, and since when (an entry lives at most about [`HOLD`]: the
/// pass that writes, or finds nothing to write, removes it).
#[derive(Default)]
pub(crate) struct Holds(Mutex<HashMap<String, Instant>>);

impl Holds {
    /// When `new`, the status a pass computed for `stack`, may wait instead of being written
    /// now: the time left (the reconcile must come back then). `None`: write it now.
    pub(crate) fn hold(&self, stack: &DevStack, new: &DevStackStatus) -> Option<Duration> {
        self.hold_at(stack, new, Instant::now())
    }

    fn hold_at(&self, stack: &DevStack, new: &DevStackStatus, now: Instant) -> Option<Duration> {
        let key = key(stack);
        let mut holds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let progress_only = stack
            .status
            .as_ref()
            .is_some_and(|old| old != new && only_progress(old, new));
        if !progress_only {
            holds.remove(&key);
            return None;
        }
        let since = *holds.entry(key.clone()).or_insert(now);
        let left = HOLD.saturating_sub(now.saturating_duration_since(since));
        if left.is_zero() {
            holds.remove(&key);
            return None;
        }
        Some(left)
    }

    /// Forgets `stack` (deleted).
    pub(crate) fn forget(&self, stack: &DevStack) {
        let mut holds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        holds.remove(&key(stack));
    }
}

fn key(stack: &DevStack) -> String {
    format!(
        "{}/{}",
        stack.namespace().unwrap_or_default(),
        stack.name_any()
    )
}

/// Whether `old` and `new` both say the stack progresses at the same generation and differ only
/// in how far its services have come.
fn only_progress(old: &DevStackStatus, new: &DevStackStatus) -> bool {
    progressing(old) && progressing(new) && progress_blanked(old) == progress_blanked(new)
}

/// `Reconciling=True` for services not ready yet, at the status's generation.
fn progressing(status: &DevStackStatus) -> bool {
    status.conditions.iter().any(|c| {
        c.type_ == "Reconciling"
            && c.status == "True"
            && c.reason == "ServicesNotReady"
            && c.observed_generation == status.observed_generation
    })
}

/// `status` without what changes as services come up. A service whose pods cannot be created
/// keeps its message (an error is never delayed).
fn progress_blanked(status: &DevStackStatus) -> DevStackStatus {
    let mut status = status.clone();
    status.ready_services = None;
    // The digest of the record ([`super::digest`]) may wait too: it only saves reads after a
    // restart.
    status.observed_objects = None;
    for condition in &mut status.conditions {
        if condition.type_ == "Ready" || condition.type_ == "Reconciling" {
            condition.message.clear();
        }
    }
    for service in status.services.values_mut() {
        service.ready = false;
        let progress = service
            .message
            .as_deref()
            .is_some_and(|m| m == "starting" || m.starts_with("waiting for "));
        if progress {
            service.message = None;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use devstack_core::types::ServiceStatus;

    use super::super::status::{self, Phase};
    use super::*;

    fn stack_with(status: Option<DevStackStatus>) -> DevStack {
        let mut stack = super::super::fixtures::devstack("    db: {type: postgres}\n");
        stack.metadata.namespace = Some("ns".into());
        stack.metadata.generation = Some(1);
        stack.status = status;
        stack
    }

    fn services(states: &[(&str, bool, Option<&str>)]) -> BTreeMap<String, ServiceStatus> {
        states
            .iter()
            .map(|(name, ready, message)| {
                let status = ServiceStatus {
                    ready: *ready,
                    message: message.map(str::to_string),
                    ..ServiceStatus::default()
                };
                ((*name).to_string(), status)
            })
            .collect()
    }

    fn built(stack: &DevStack, services: BTreeMap<String, ServiceStatus>) -> DevStackStatus {
        let phase = status::phase_of(&services);
        status::build(stack, &phase, Some(services), None, None)
    }

    #[test]
    fn a_new_digest_of_a_progressing_stack_waits_too() {
        let holds = Holds::default();
        let first = built(
            &stack_with(None),
            services(&[("db", false, Some("starting"))]),
        );
        let stack = stack_with(Some(first.clone()));
        let mut digested = first;
        digested.observed_objects = Some("d".into());
        assert_eq!(holds.hold_at(&stack, &digested, Instant::now()), Some(HOLD));
    }

    #[test]
    fn progress_waits_at_most_a_second_and_the_rest_never_waits() {
        let holds = Holds::default();
        let first = built(
            &stack_with(None),
            services(&[
                ("db", false, Some("starting")),
                ("api", false, Some("waiting for db")),
            ]),
        );
        // The first status of a generation: written at once.
        assert_eq!(holds.hold(&stack_with(None), &first), None);
        let stack = stack_with(Some(first));
        let t0 = Instant::now();
        let db_ready = built(
            &stack,
            services(&[("db", true, None), ("api", false, Some("starting"))]),
        );
        assert_eq!(holds.hold_at(&stack, &db_ready, t0), Some(HOLD));
        let later = t0 + Duration::from_millis(400);
        assert_eq!(
            holds.hold_at(&stack, &db_ready, later),
            Some(Duration::from_millis(600))
        );
        // Due: written (with whatever it then says), and the next change waits anew.
        assert_eq!(holds.hold_at(&stack, &db_ready, t0 + HOLD), None);
        assert_eq!(holds.hold_at(&stack, &db_ready, t0 + HOLD), Some(HOLD));
        // Ready: never waits, whatever is held.
        let ready = built(&stack, services(&[("db", true, None), ("api", true, None)]));
        assert_eq!(holds.hold_at(&stack, &ready, t0), None);
        // Pods refused: an error, never waits.
        let refused = built(
            &stack,
            services(&[
                ("db", true, None),
                ("api", false, Some("pods cannot be created: x")),
            ]),
        );
        assert_eq!(holds.hold_at(&stack, &refused, t0), None);
        // A failure: never waits.
        let failed = status::build(&stack, &Phase::Failed("boom".into()), None, None, None);
        assert_eq!(holds.hold_at(&stack, &failed, t0), None);
        // A new generation's first status: never waits.
        let mut edited = stack.clone();
        edited.metadata.generation = Some(2);
        let next = built(
            &edited,
            services(&[("db", true, None), ("api", false, Some("starting"))]),
        );
        assert_eq!(holds.hold_at(&edited, &next, t0), None);
    }
}
