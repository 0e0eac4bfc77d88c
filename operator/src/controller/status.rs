//! The DevStack status, kstatus-compatible: `observedGeneration`, conditions `Ready`,
//! `Reconciling` and `Stalled` (each with `observedGeneration`, so `kubectl wait` never reads
//! a stale answer, and with `lastTransitionTime` kept while the condition does not change),
//! per-service state and the ready count for the printer column. Computed from the objects the
//! API server returned, and written only when it differs from what is there.

use std::collections::BTreeMap;

use devstack_core::plan::StackPlan;
use devstack_core::types::{DevStack, DevStackStatus, ServiceStatus};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::error::Error;
use super::FIELD_MANAGER;
use crate::render::RenderOptions;

/// Where the stack stands, as far as conditions go.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Phase {
    /// Every active service is ready.
    Ready,
    /// Objects are applied; some services are not ready yet (the message says which).
    Progressing(String),
    /// Nothing is applied until a person acts: an invalid spec (`InvalidSpec`, the message
    /// lists every field error), an object of the same name that is not the stack's own
    /// (`Conflict`), retained data whose credentials are gone (`CredentialsLost`).
    Stalled {
        /// The condition reason.
        reason: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// A transient failure; the reconcile is retried with backoff.
    Failed(String),
}

/// What one service's workload looks like on the server.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ServiceOutcome {
    /// All replicas ready, at the current generation.
    pub ready: bool,
    /// Dependencies that are not Ready yet (the workload is held back).
    pub waiting_for: Vec<String>,
    /// Why the workload's pods cannot be created (the ReplicaSet's `ReplicaFailure`, the
    /// StatefulSet's `FailedCreate` Event), e.g. the namespace's Pod Security level refuses
    /// the image's user.
    pub refused: Option<String>,
}

/// A Deployment's `ReplicaFailure` condition message (pods refused by admission, quota, …).
pub(crate) fn replica_failure(d: &Deployment) -> Option<String> {
    d.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_.as_deref() == Some("ReplicaFailure") && c.status.as_deref() == Some("True")
        })
        .map(|c| {
            c.message
                .clone()
                .unwrap_or_else(|| c.reason.clone().unwrap_or_default())
        })
}

/// Whether a Deployment rolled out its current generation and all replicas are ready.
pub(crate) fn deployment_ready(d: &Deployment) -> bool {
    let want = d.spec.replicas.unwrap_or(1);
    let Some(status) = &d.status else {
        return want == 0;
    };
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= want
        && status.ready_replicas.unwrap_or(0) >= want
        && status.replicas.unwrap_or(0) == want
}

/// Whether a StatefulSet rolled out its current generation and all replicas are ready.
pub(crate) fn statefulset_ready(s: &StatefulSet) -> bool {
    let want = s.spec.replicas.unwrap_or(1);
    let Some(status) = &s.status else {
        return want == 0;
    };
    status.observed_generation >= s.metadata.generation
        && status.ready_replicas.unwrap_or(0) >= want
        && status.updated_replicas.unwrap_or(0) >= want
        && status.current_revision == status.update_revision
}

/// Per-service status of the active services.
pub(crate) fn services(
    plan: &StackPlan,
    namespace: &str,
    outcomes: &BTreeMap<String, ServiceOutcome>,
    options: RenderOptions,
) -> BTreeMap<String, ServiceStatus> {
    plan.active_services()
        .map(|service| {
            let outcome = outcomes.get(&service.name).cloned().unwrap_or_default();
            let message = if !outcome.waiting_for.is_empty() {
                Some(format!("waiting for {}", outcome.waiting_for.join(", ")))
            } else if let Some(refused) = outcome.refused.filter(|_| !outcome.ready) {
                Some(format!("pods cannot be created: {refused}"))
            } else if !outcome.ready {
                Some("starting".to_string())
            } else {
                None
            };
            let status = ServiceStatus {
                ready: outcome.ready,
                endpoint: service
                    .ports
                    .first()
                    .map(|p| format!("{}.{namespace}.svc:{}", service.name, p.container_port)),
                image: Some(service.image.clone()),
                host_ports: service
                    .ports
                    .iter()
                    .filter_map(|p| Some((p.name.clone(), i64::from(p.host_port?))))
                    .collect(),
                message: message.map(|m| bounded(&m)),
                gpu: (service.gpu > 0).then(|| {
                    if options.falls_back_to_cpu(service) {
                        "cpu (no node offers nvidia.com/gpu)".to_string()
                    } else {
                        format!("nvidia.com/gpu: {}", service.gpu)
                    }
                }),
                metrics: None,
            };
            (service.name.clone(), status)
        })
        .collect()
}

/// The phase the per-service states add up to.
pub(crate) fn phase_of(services: &BTreeMap<String, ServiceStatus>) -> Phase {
    let ready = services.values().filter(|s| s.ready).count();
    if ready == services.len() {
        return Phase::Ready;
    }
    let pending: Vec<String> = services
        .iter()
        .filter(|(_, s)| !s.ready)
        .map(|(name, s)| format!("{name}: {}", s.message.as_deref().unwrap_or("not ready")))
        .collect();
    Phase::Progressing(format!(
        "{ready}/{} services ready; {}",
        services.len(),
        pending.join("; ")
    ))
}

fn condition(
    previous: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let message = bounded(message);
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map_or_else(|| now.clone(), |c| c.last_transition_time.clone());
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// The longest condition or service message, in bytes. A spec may repeat a large value in
/// every field error; three conditions of this size keep the status far below the API
/// server's object limit (1.5 MiB in etcd) and readable in `kubectl describe`.
pub(crate) const MAX_MESSAGE: usize = 4096;

/// `message` cut to [`MAX_MESSAGE`] bytes (at a character boundary), saying so.
pub(crate) fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE {
        return message.to_string();
    }
    let suffix = format!(" … (cut from {} bytes)", message.len());
    let mut cut = MAX_MESSAGE - suffix.len();
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}", &message[..cut])
}

/// The three kstatus conditions for `phase`.
pub(crate) fn conditions(
    previous: &[Condition],
    phase: &Phase,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let c = |type_, status, reason, message: &str| {
        condition(previous, type_, status, reason, message, generation, now)
    };
    match phase {
        Phase::Ready => vec![
            c("Ready", true, "Ready", "all services are ready"),
            c("Reconciling", false, "Ready", ""),
            c("Stalled", false, "Ready", ""),
        ],
        Phase::Progressing(message) => vec![
            c("Ready", false, "ServicesNotReady", message),
            c("Reconciling", true, "ServicesNotReady", message),
            c("Stalled", false, "ServicesNotReady", ""),
        ],
        Phase::Stalled { reason, message } => vec![
            c("Ready", false, reason, message),
            c("Reconciling", false, reason, ""),
            c("Stalled", true, reason, message),
        ],
        Phase::Failed(message) => vec![
            c("Ready", false, "ReconcileError", message),
            c("Reconciling", true, "ReconcileError", message),
            c("Stalled", false, "ReconcileError", ""),
        ],
    }
}

/// The current time, to the second (what the API server keeps).
pub(crate) fn now() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// A new status for `stack`: `phase` with per-service state `services` (`None` keeps the
/// previous per-service state, for failures before anything was read; `last_reset`: a reset
/// just carried out).
pub(crate) fn build(
    stack: &DevStack,
    phase: &Phase,
    services: Option<BTreeMap<String, ServiceStatus>>,
    connection_secret: Option<String>,
    last_reset: Option<String>,
) -> DevStackStatus {
    let previous = stack.status.clone().unwrap_or_default();
    let generation = stack.meta().generation;
    let services = services.unwrap_or_else(|| previous.services.clone());
    DevStackStatus {
        observed_generation: generation,
        conditions: conditions(&previous.conditions, phase, generation, &now()),
        ready_services: Some(
            i32::try_from(services.values().filter(|s| s.ready).count()).unwrap_or(i32::MAX),
        ),
        services,
        connection_secret: connection_secret.or(previous.connection_secret),
        last_reset: last_reset.or(previous.last_reset),
        observed_objects: previous.observed_objects,
    }
}

/// Writes `status` unless the object already has it. Returns whether it wrote.
pub(crate) async fn write(
    client: &Client,
    stack: &DevStack,
    status: &DevStackStatus,
) -> Result<bool, Error> {
    if stack.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let name = stack.name_any();
    let api = Api::<DevStack>::namespaced(client.clone(), &stack.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": DevStack::api_version(&()),
        "kind": DevStack::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube("update status of", "DevStack", &name))?;
    Ok(true)
}

/// The `Ready` condition's status (`True`/`False`), if any.
pub(crate) fn ready_status(status: Option<&DevStackStatus>) -> Option<&str> {
    status?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    #[test]
    fn transition_time_is_kept_while_the_status_does_not_change() {
        let first = conditions(&[], &Phase::Progressing("0/1".into()), Some(1), &at(100));
        let second = conditions(
            &first,
            &Phase::Progressing("0/1 again".into()),
            Some(2),
            &at(200),
        );
        assert_eq!(second[0].last_transition_time, at(100));
        assert_eq!(second[0].observed_generation, Some(2));
        let ready = conditions(&second, &Phase::Ready, Some(2), &at(300));
        assert_eq!(ready[0].status, "True");
        assert_eq!(ready[0].last_transition_time, at(300));
        assert_eq!(ready[1].type_, "Reconciling");
        assert_eq!(ready[1].last_transition_time, at(300));
        assert_eq!(
            ready[2].last_transition_time,
            at(100),
            "Stalled stayed False"
        );
    }

    #[test]
    fn invalid_spec_is_stalled_not_reconciling() {
        let invalid = Phase::Stalled {
            reason: "InvalidSpec",
            message: "spec.x: bad".into(),
        };
        let c = conditions(&[], &invalid, Some(3), &at(1));
        let by_type: BTreeMap<&str, &Condition> = c.iter().map(|c| (c.type_.as_str(), c)).collect();
        assert_eq!(by_type["Stalled"].status, "True");
        assert_eq!(by_type["Stalled"].reason, "InvalidSpec");
        assert_eq!(by_type["Stalled"].message, "spec.x: bad");
        assert_eq!(by_type["Ready"].status, "False");
        assert_eq!(by_type["Reconciling"].status, "False");
    }

    #[test]
    fn messages_are_bounded() {
        let huge = format!("spec.services.a.image: invalid {:?}", "é".repeat(400_000));
        let stalled = Phase::Stalled {
            reason: "InvalidSpec",
            message: huge.clone(),
        };
        let c = conditions(&[], &stalled, Some(1), &at(1));
        for condition in &c {
            assert!(
                condition.message.len() <= MAX_MESSAGE,
                "{}",
                condition.message.len()
            );
        }
        assert!(c[0].message.starts_with("spec.services.a.image: invalid"));
        assert!(c[0]
            .message
            .ends_with(&format!("(cut from {} bytes)", huge.len())));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn phase_lists_what_each_pending_service_waits_for() {
        let services: BTreeMap<String, ServiceStatus> = [
            (
                "api".to_string(),
                ServiceStatus {
                    ready: false,
                    message: Some("waiting for db".into()),
                    ..ServiceStatus::default()
                },
            ),
            (
                "db".to_string(),
                ServiceStatus {
                    ready: false,
                    message: Some("starting".into()),
                    ..ServiceStatus::default()
                },
            ),
            (
                "web".to_string(),
                ServiceStatus {
                    ready: true,
                    ..ServiceStatus::default()
                },
            ),
        ]
        .into();
        assert_eq!(
            phase_of(&services),
            Phase::Progressing("1/3 services ready; api: waiting for db; db: starting".into())
        );
    }
}
