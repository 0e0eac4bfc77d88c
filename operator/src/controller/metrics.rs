//! Prometheus metrics of the controller (prometheus-client), served on `/metrics`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label set naming a failure reason ([`super::Error::metric_label`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why the reconcile failed.
    pub reason: String,
}

/// Label set naming an object kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `Deployment`, `Secret`, …
    pub kind: String,
}

/// Every metric the controller updates.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciles started.
    pub reconciles: Counter,
    /// Reconciles that failed, by reason.
    pub failures: Family<ReasonLabels, Counter>,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// Objects written with server-side apply, by kind.
    pub applied: Family<KindLabels, Counter>,
    /// Objects found already as desired (no request sent), by kind.
    pub unchanged: Family<KindLabels, Counter>,
    /// Objects of removed or deactivated services deleted, by kind.
    pub pruned: Family<KindLabels, Counter>,
    /// Credentials Secrets created with freshly generated values.
    pub credentials_generated: Counter,
    /// Distinct stacks reconciled successfully since the start (a resync is complete when it
    /// reaches the number of stacks, even when the reconciles sent no request).
    pub stacks_reconciled: Gauge,
    reconciled: Arc<Mutex<HashSet<String>>>,
}

impl Metrics {
    /// New metrics, registered in `registry` under the `devstack` prefix.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Metrics {
            reconciles: Counter::default(),
            failures: Family::default(),
            duration: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            applied: Family::default(),
            unchanged: Family::default(),
            pruned: Family::default(),
            credentials_generated: Counter::default(),
            stacks_reconciled: Gauge::default(),
            reconciled: Arc::default(),
        };
        let sub = registry.sub_registry_with_prefix("devstack");
        sub.register(
            "reconciles",
            "DevStack reconciles started",
            metrics.reconciles.clone(),
        );
        sub.register(
            "reconcile_failures",
            "DevStack reconciles that failed, by reason",
            metrics.failures.clone(),
        );
        sub.register(
            "reconcile_duration_seconds",
            "Duration of one DevStack reconcile",
            metrics.duration.clone(),
        );
        sub.register(
            "objects_applied",
            "Objects written with server-side apply, by kind",
            metrics.applied.clone(),
        );
        sub.register(
            "objects_unchanged",
            "Objects already as desired (no write sent), by kind",
            metrics.unchanged.clone(),
        );
        sub.register(
            "objects_pruned",
            "Objects of removed or deactivated services deleted, by kind",
            metrics.pruned.clone(),
        );
        sub.register(
            "credentials_generated",
            "Credentials Secrets created with freshly generated values",
            metrics.credentials_generated.clone(),
        );
        sub.register(
            "stacks_reconciled",
            "Distinct DevStacks reconciled successfully since the operator started",
            metrics.stacks_reconciled.clone(),
        );
        metrics
    }

    /// Records a successful reconcile of the stack `namespace/name`.
    pub fn stack_reconciled(&self, stack: String) {
        let mut seen = self.reconciled.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(stack);
        self.stacks_reconciled
            .set(i64::try_from(seen.len()).unwrap_or(i64::MAX));
    }

    /// Counts a reconcile and returns a guard that records its duration when dropped.
    pub fn start_reconcile(&self) -> ReconcileTimer {
        self.reconciles.inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: self.duration.clone(),
        }
    }

    /// Counts a failed reconcile.
    pub fn failure(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub(crate) fn kind(family: &Family<KindLabels, Counter>, kind: &str) {
        family
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }
}

/// Records the duration of one reconcile when dropped.
pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_devstack_prefix() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        drop(metrics.start_reconcile());
        metrics.failure("apply");
        Metrics::kind(&metrics.applied, "Deployment");
        metrics.stack_reconciled("a/one".into());
        metrics.stack_reconciled("a/one".into());
        metrics.stack_reconciled("b/one".into());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("devstack_reconciles_total 1"), "{text}");
        assert!(
            text.contains("devstack_reconcile_failures_total{reason=\"apply\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("devstack_objects_applied_total{kind=\"Deployment\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("devstack_reconcile_duration_seconds_count 1"),
            "{text}"
        );
        assert!(text.contains("devstack_stacks_reconciled 2\n"), "{text}");
    }
}
