//! The end of every reconcile: its [`Outcome`] becomes the status (written only when it
//! changed) and the Events, and decides when the stack is looked at again. Every Event the
//! controller publishes is published here.

use std::time::Duration;

use devstack_core::types::DevStack;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use super::apply::Applied;
use super::status::{self, Phase};
use super::{node_ports, Context, Error};

/// How often a Ready stack is checked again without any watch event: a safety net only. The
/// watches see every change of what the reconcile writes (edits, deletions; a watch that
/// restarts relists, and a changed object then wakes its stack), so the resync catches only
/// what they cannot: a missed event, a deleted claim. Each resync of an unchanged stack costs
/// its reads (5 LISTs, from the API server's watch cache) and no write; at 1,000 stacks
/// every 30 minutes that is ≈ 0.6 reconciles and ≈ 3 LISTs per second, spread over time
/// (each stack's clock starts at its own last reconcile), against ≈ 8 per second every 10
/// minutes before.
pub(crate) const RESYNC: Duration = Duration::from_secs(1800);
/// How often a stack that is not Ready yet is checked again without any watch event.
pub(crate) const PROGRESS_CHECK: Duration = Duration::from_secs(30);
/// How often a stack waiting for a reset's deletions is checked again.
const RESET_CHECK: Duration = Duration::from_secs(2);
/// How often a stack in conflict (or missing its credentials, or whose planned node port is
/// taken) is checked again: the foreign object is not watched (only objects a stack owns are), and one of a deleted stack goes
/// within seconds.
const CONFLICT_CHECK: Duration = Duration::from_secs(10);

/// How one reconcile ended.
pub(crate) enum Outcome {
    /// The spec is invalid (every field error); nothing was written.
    Invalid(String),
    /// Objects of the stack's names that are not its own; nothing was written.
    Conflict(Vec<String>),
    /// The stack's data exists but its credentials Secret does not; nothing was written.
    CredentialsLost,
    /// A reset is deleting the data; the credentials are replaced once it is gone.
    Resetting,
    /// The stack was applied; `written`/`pruned` list what changed (`Kind/name`).
    Applied {
        /// What the API server returned.
        applied: Box<Applied>,
        /// Objects written.
        written: Vec<String>,
        /// Objects created (a subset of `written`).
        created: Vec<String>,
        /// Objects pruned.
        pruned: Vec<String>,
    },
}

/// Records `outcome` in the status and Events; returns when to come back.
pub(crate) async fn report(
    stack: &DevStack,
    ctx: &Context,
    outcome: Outcome,
) -> Result<Action, Error> {
    let stalled = |reason, message: String| Phase::Stalled { reason, message };
    let (phase, event) = match outcome {
        Outcome::Applied {
            applied,
            written,
            created,
            pruned,
        } => {
            let writes = Writes {
                written: &written,
                created: &created,
                pruned: &pruned,
            };
            return report_applied(stack, ctx, *applied, writes).await;
        }
        Outcome::Invalid(message) => {
            info!(errors = %message.replace('\n', "; "), "invalid spec; nothing applied");
            let note = format!("invalid spec, nothing applied:\n{message}");
            (
                stalled("InvalidSpec", message),
                Some(("InvalidSpec", "Validating", note)),
            )
        }
        Outcome::Conflict(objects) => {
            let message = format!(
                "objects of this stack's names exist and are not its own; nothing applied (delete or rename them): {}",
                objects.join("; ")
            );
            warn!(conflicts = %objects.join("; "), "conflict; nothing applied");
            (
                stalled("Conflict", message.clone()),
                Some(("Conflict", "Applying", message)),
            )
        }
        Outcome::CredentialsLost => {
            let message = "the stack's data volumes exist but its credentials Secret is gone: restore the Secret, or annotate devstack.dev/reset to start over with empty data".to_string();
            warn!("retained data without credentials; nothing applied");
            (
                stalled("CredentialsLost", message.clone()),
                Some(("CredentialsLost", "Applying", message)),
            )
        }
        Outcome::Resetting => {
            let phase = Phase::Progressing("resetting: deleting data volumes".into());
            (phase, None)
        }
    };
    let status = status::build(stack, &phase, None, None, None);
    let changed = status::write(&ctx.client, stack, &status).await?;
    if let (true, Some((reason, action, note))) = (changed, event) {
        publish(
            ctx,
            &stack.object_ref(&()),
            EventType::Warning,
            reason,
            action,
            note,
        )
        .await;
    }
    Ok(match phase {
        Phase::Progressing(_) => Action::requeue(RESET_CHECK),
        Phase::Stalled {
            reason: "InvalidSpec",
            ..
        } => Action::await_change(),
        _ => Action::requeue(CONFLICT_CHECK),
    })
}

/// What one pass wrote, `Kind/name` each.
struct Writes<'w> {
    written: &'w [String],
    created: &'w [String],
    pruned: &'w [String],
}

async fn report_applied(
    stack: &DevStack,
    ctx: &Context,
    applied: Applied,
    writes: Writes<'_>,
) -> Result<Action, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let mut services = status::services(
        &applied.plan,
        &namespace,
        &applied.outcomes,
        applied.options,
    );
    let health =
        super::scrape_status::metrics_health(&ctx.client, &namespace, &applied.plan, &services)
            .await;
    super::scrape_status::annotate(&mut services, &applied.plan, health.as_ref());
    let scrapes_pending = super::scrape_status::pending(&services);
    let phase = match node_ports_taken(&applied) {
        Some(stalled) => stalled,
        None => status::phase_of(&services),
    };
    let ready_count = services.len();
    let connections = Some(applied.plan.connections_secret_name());
    let mut new_status = status::build(
        stack,
        &phase,
        Some(services),
        connections,
        applied.reset.clone(),
    );
    if let Some(digest) = super::digest::of_record(&ctx.verified, &namespace, &applied.keep) {
        new_status.observed_objects = Some(digest);
    }
    let was_ready = status::ready_status(stack.status.as_ref()) == Some("True");
    let held = ctx.holds.hold(stack, &new_status);
    let changed = match held {
        Some(_) => false,
        None => status::write(&ctx.client, stack, &new_status).await?,
    };

    let reference = stack.object_ref(&());
    if let (true, Phase::Stalled { reason, message }) = (changed, &phase) {
        warn!(%message, "planned node port taken");
        let note = message.clone();
        publish(
            ctx,
            &reference,
            EventType::Warning,
            reason,
            "Applying",
            note,
        )
        .await;
    }
    if !continues_rollout(stack, &applied, &writes) {
        publish_writes(ctx, &reference, &applied, &writes).await;
    }
    if let Phase::Stalled { .. } = phase {
        return Ok(Action::requeue(CONFLICT_CHECK));
    }
    if phase != Phase::Ready || scrapes_pending {
        return Ok(Action::requeue(held.unwrap_or(PROGRESS_CHECK)));
    }
    if !was_ready {
        info!("ready");
        let note = format!("all {ready_count} services are ready");
        publish(
            ctx,
            &reference,
            EventType::Normal,
            "Ready",
            "Reconciling",
            note,
        )
        .await;
    }
    Ok(Action::requeue(RESYNC))
}

/// Whether this pass only went on with the rollout that its generation's first pass began:
/// the stack was progressing at this generation (its status says so) and every write was the
/// create of a workload that waited for its dependencies. Such a pass publishes no `Applied`:
/// the first pass's Event names the workloads that wait, the status says how each service
/// stands, and `Ready` ends the story. Anything else (a new generation, a repair, a prune, a
/// reset, a pass after a failure) publishes one.
fn continues_rollout(stack: &DevStack, applied: &Applied, writes: &Writes<'_>) -> bool {
    let dependent = |object: &String| {
        let Some((kind, name)) = object.split_once('/') else {
            return false;
        };
        matches!(kind, "Deployment" | "StatefulSet")
            && writes.created.contains(object)
            && applied
                .plan
                .services
                .get(name)
                .is_some_and(|s| !s.depends_on.is_empty())
    };
    super::held::progressing(stack)
        && applied.reset.is_none()
        && writes.pruned.is_empty()
        && writes.written.iter().all(dependent)
}

/// The Events of what this pass wrote: a reset on request, the objects applied and pruned.
async fn publish_writes(
    ctx: &Context,
    reference: &ObjectReference,
    applied: &Applied,
    writes: &Writes<'_>,
) {
    let (written, pruned) = (writes.written, writes.pruned);
    if let Some(token) = &applied.reset {
        info!(reset = %token, "reset: data and credentials replaced");
        let note = "reset on request: data volumes and credentials wiped; created anew".to_string();
        publish(
            ctx,
            reference,
            EventType::Normal,
            "Reset",
            "Resetting",
            note,
        )
        .await;
    }
    if written.is_empty() && pruned.is_empty() {
        return;
    }
    let mut note = format!("applied {} object(s)", written.len());
    if !written.is_empty() {
        note.push_str(&format!(": {}", written.join(", ")));
    }
    if !pruned.is_empty() {
        note.push_str(&format!("; pruned {}", pruned.join(", ")));
    }
    let waiting: Vec<&str> = applied
        .outcomes
        .iter()
        .filter(|(_, o)| !o.waiting_for.is_empty())
        .map(|(service, _)| service.as_str())
        .collect();
    if !waiting.is_empty() {
        note.push_str(&format!(
            "; created once their dependencies are ready: {}",
            waiting.join(", ")
        ));
    }
    info!(applied = written.len(), pruned = pruned.len(), "applied");
    publish(
        ctx,
        reference,
        EventType::Normal,
        "Applied",
        "Applying",
        note,
    )
    .await;
}

/// `Stalled` (`NodePortTaken`) when a planned node port is someone else's: every other object
/// is applied, but a published port does not work until a person frees it or moves it.
fn node_ports_taken(applied: &Applied) -> Option<Phase> {
    if applied.taken.is_empty() {
        return None;
    }
    let messages: Vec<String> = applied.taken.iter().map(|t| t.message()).collect();
    Some(Phase::Stalled {
        reason: node_ports::REASON,
        message: messages.join("; "),
    })
}

/// A transient failure: said in the status too (error_policy backs off and counts it).
pub(crate) async fn failed(stack: &DevStack, ctx: &Context, error: &Error) {
    let status = status::build(stack, &Phase::Failed(error.to_string()), None, None, None);
    if let Err(e) = status::write(&ctx.client, stack, &status).await {
        warn!(error = %e, "could not record the failure in the status");
    }
}

/// A DevStack the watch could not read into our types: say so, touch nothing.
pub(crate) async fn unreadable(guard: &DeserializeGuard<DevStack>, error: &str, ctx: &Context) {
    let meta = guard.meta();
    warn!(%error, "cannot read DevStack; waiting for a change");
    let reference = ObjectReference {
        api_version: Some(DevStack::api_version(&()).into_owned()),
        kind: Some(DevStack::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..ObjectReference::default()
    };
    let note = format!("the DevStack cannot be read: {error}");
    publish(
        ctx,
        &reference,
        EventType::Warning,
        "InvalidSpec",
        "Reading",
        note,
    )
    .await;
}

/// The finalizer ran: retained data and its credentials kept, or everything deleted.
pub(crate) async fn deleted(stack: &DevStack, ctx: &Context, kept: bool) {
    ctx.holds.forget(stack);
    let note = if kept {
        "deleted; retained data and its credentials kept for a re-created stack of this name"
    } else {
        "deleted with its data"
    };
    let reference = stack.object_ref(&());
    publish(
        ctx,
        &reference,
        EventType::Normal,
        "Deleted",
        "Deleting",
        note.to_string(),
    )
    .await;
}

/// Publishes an Event; a failure is logged, never fatal (Events are best-effort).
async fn publish(
    ctx: &Context,
    reference: &ObjectReference,
    type_: EventType,
    reason: &str,
    action: &str,
    mut note: String,
) {
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, reference).await {
        warn!(%error, "could not publish an Event");
    }
}
