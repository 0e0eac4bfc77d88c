//! One reconcile of one DevStack: dereference (through the guard) → validate + plan (the CLI's
//! code) → credentials → render (pure) → apply in start order → prune → status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use devstack_core::plan::StackPlan;
use devstack_core::types::DevStack;
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::ByteString;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{finalizer, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use tracing::{info, warn, Instrument};

use super::apply::Applier;
use super::status::{self, Phase, ServiceOutcome};
use super::{cleanup, credentials, Context, Error, FINALIZER};
use crate::render::{render_with, K8sObject, RenderOptions};

/// How often a Ready stack is checked again without any watch event (drift of objects the
/// watches do not see, such as a deleted claim).
const RESYNC: Duration = Duration::from_secs(600);
/// Requests one reconcile keeps in flight for independent objects. Unbounded, 64 reconciles of
/// 5-service stacks (the 1,000-stack benchmark) kept ~300 writes in flight and the API server
/// answered 1,231 of them with 504 Gateway Timeout, which the client retried.
const ENSURE_PARALLELISM: usize = 4;
/// How often a stack that is not Ready yet is checked again without any watch event.
const PROGRESS_CHECK: Duration = Duration::from_secs(30);

/// The controller's reconcile function.
pub(crate) async fn reconcile(
    guard: Arc<DeserializeGuard<DevStack>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let meta = guard.meta();
    let span = tracing::info_span!(
        "reconcile",
        stack = meta.name.as_deref().unwrap_or_default(),
        namespace = meta.namespace.as_deref().unwrap_or_default()
    );
    async move {
        let _timer = ctx.metrics.start_reconcile();
        let stack = match &guard.0 {
            Ok(stack) => stack.clone(),
            Err(invalid) => {
                unreadable(&guard, &invalid.error, &ctx).await;
                return Ok(Action::await_change());
            }
        };
        let namespace = stack
            .namespace()
            .ok_or_else(|| Error::NoNamespace(stack.name_any()))?;
        let api = Api::<DevStack>::namespaced(ctx.client.clone(), &namespace);
        let result = finalizer(&api, FINALIZER, Arc::new(stack), |event| async {
            match event {
                FinalizerEvent::Apply(stack) => apply(&stack, &ctx).await,
                FinalizerEvent::Cleanup(stack) => cleanup::cleanup(&stack, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        if result.is_ok() {
            ctx.clear_failures(&ObjectRef::from_obj(guard.as_ref()));
        }
        result
    }
    .instrument(span)
    .await
}

/// A DevStack the watch could not read into our types: say so, touch nothing.
async fn unreadable(guard: &DeserializeGuard<DevStack>, error: &str, ctx: &Context) {
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

async fn apply(stack: &DevStack, ctx: &Context) -> Result<Action, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let mut plan = match devstack_core::plan(stack, &ctx.plan_options) {
        Ok(plan) => plan,
        Err(errors) => return invalid(stack, ctx, &errors.to_string()).await,
    };
    plan.namespace = Some(namespace);
    if let Some(action) = cleanup::reset_if_requested(stack, &plan, ctx).await? {
        return Ok(action);
    }
    match converge(stack, &plan, ctx).await {
        Ok(action) => Ok(action),
        Err(error) => {
            // Say what failed in the status too; error_policy backs off and counts it.
            let status = status::build(stack, &Phase::Failed(error.to_string()), None, None);
            if let Err(e) = status::write(&ctx.client, stack, &status).await {
                warn!(error = %e, "could not record the failure in the status");
            }
            Err(error)
        }
    }
}

/// An invalid spec: no object is touched; the status says Stalled with every field error and
/// a Warning Event repeats it when it is new; then wait for the spec to change.
async fn invalid(stack: &DevStack, ctx: &Context, message: &str) -> Result<Action, Error> {
    info!(errors = %message.replace('\n', "; "), "invalid spec; nothing applied");
    let status = status::build(stack, &Phase::Invalid(message.to_string()), None, None);
    if status::write(&ctx.client, stack, &status).await? {
        let note = format!("invalid spec, nothing applied:\n{message}");
        publish(
            ctx,
            &stack.object_ref(&()),
            EventType::Warning,
            "InvalidSpec",
            "Validating",
            note,
        )
        .await;
    }
    Ok(Action::await_change())
}

fn with_data(mut secret: Secret) -> Secret {
    if let Some(values) = secret.string_data.take() {
        secret.data = Some(
            values
                .into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        );
    }
    secret
}

/// Active services, each after its dependencies (the plan has no cycles: validation rejects
/// them).
fn dependency_order(plan: &StackPlan) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    let mut remaining: Vec<_> = plan.active_services().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|service| {
            let free = service.depends_on.iter().all(|d| {
                done.contains(&d.service)
                    || !plan.services.get(&d.service).is_some_and(|s| s.active)
            });
            if free {
                done.push(service.name.clone());
            }
            !free
        });
        if remaining.len() == before {
            done.extend(remaining.iter().map(|s| s.name.clone()));
            break;
        }
    }
    done
}

async fn converge(stack: &DevStack, plan: &StackPlan, ctx: &Context) -> Result<Action, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let name = stack.name_any();
    let owner = stack
        .controller_owner_ref(&())
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    if let Some(action) = cleanup::wait_for_reset(stack, ctx).await? {
        return Ok(action);
    }

    let options = RenderOptions {
        gpu_fallback: !super::gpu_offered(&ctx.client, plan).await?,
    };
    let mut applier = Applier::new(
        ctx.client.clone(),
        &namespace,
        &name,
        owner.clone(),
        &ctx.metrics,
    )
    .await?;
    let credentials_name = plan.credentials_secret_name();
    let listed = applier.listed::<Secret>(&credentials_name);
    let creds = credentials::load(&ctx.client, &namespace, plan, listed).await?;
    let objects = render_with(plan, Some(&creds.values), options)?;
    let mut keep = BTreeSet::new();
    let mut workloads = BTreeMap::new();
    // Secrets, policies and Services do not depend on each other: ensured concurrently, but at
    // most ENSURE_PARALLELISM at a time (times --concurrency is what the API server sees).
    let mut independent = Vec::new();
    for object in objects {
        keep.insert((object.kind().to_string(), object.name().to_string()));
        match object {
            K8sObject::Secret(secret) if object_name(&secret.metadata) == credentials_name => {
                if credentials::ensure(
                    &ctx.client,
                    &namespace,
                    &creds,
                    secret,
                    &owner,
                    &ctx.metrics,
                )
                .await?
                {
                    applier.record(format!("Secret/{credentials_name}"));
                }
            }
            K8sObject::Secret(secret) => {
                independent.push(applier.ensure(with_data(secret), true).map_ok(drop).boxed());
            }
            K8sObject::NetworkPolicy(policy) => {
                independent.push(applier.ensure(policy, true).map_ok(drop).boxed());
            }
            K8sObject::Service(service) => {
                independent.push(applier.ensure(service, true).map_ok(drop).boxed());
            }
            workload => {
                workloads.insert(workload.name().to_string(), workload);
            }
        }
    }
    futures::stream::iter(independent)
        .buffer_unordered(ENSURE_PARALLELISM)
        .try_collect::<Vec<()>>()
        .await?;

    // Start order: a workload is created only once every dependency is Ready.
    let mut outcomes: BTreeMap<String, ServiceOutcome> = BTreeMap::new();
    for service in dependency_order(plan) {
        let Some(workload) = workloads.remove(&service) else {
            continue;
        };
        let waiting_for: Vec<String> = plan.services[&service]
            .depends_on
            .iter()
            .filter(|d| !outcomes.get(&d.service).is_some_and(|o| o.ready))
            .map(|d| d.service.clone())
            .collect();
        let create = waiting_for.is_empty();
        let (exists, ready) = match workload {
            K8sObject::Deployment(d) => {
                let live = applier.ensure(d, create).await?;
                (
                    live.is_some(),
                    live.as_ref().is_some_and(status::deployment_ready),
                )
            }
            K8sObject::StatefulSet(s) => {
                let live = applier.ensure(s, create).await?;
                (
                    live.is_some(),
                    live.as_ref().is_some_and(status::statefulset_ready),
                )
            }
            _ => (false, false),
        };
        let waiting_for = if exists { Vec::new() } else { waiting_for };
        outcomes.insert(service, ServiceOutcome { ready, waiting_for });
    }
    applier.prune(&keep).await?;

    let services = status::services(plan, &namespace, &outcomes, options);
    let phase = status::phase_of(&services);
    let ready_count = services.len();
    let new_status = status::build(
        stack,
        &phase,
        Some(services),
        Some(plan.connections_secret_name()),
    );
    let was_ready = status::ready_status(stack.status.as_ref()) == Some("True");
    status::write(&ctx.client, stack, &new_status).await?;

    let reference = stack.object_ref(&());
    let applied = applier.applied();
    if !applied.is_empty() || !applier.pruned.is_empty() {
        let mut note = format!("applied {} object(s)", applied.len());
        if !applied.is_empty() {
            note.push_str(&format!(": {}", applied.join(", ")));
        }
        if !applier.pruned.is_empty() {
            note.push_str(&format!("; pruned {}", applier.pruned.join(", ")));
        }
        info!(
            applied = applied.len(),
            pruned = applier.pruned.len(),
            "applied"
        );
        publish(
            ctx,
            &reference,
            EventType::Normal,
            "Applied",
            "Applying",
            note,
        )
        .await;
    }
    if phase == Phase::Ready {
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
    } else {
        Ok(Action::requeue(PROGRESS_CHECK))
    }
}

fn object_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Publishes an Event; a failure is logged, never fatal (Events are best-effort).
pub(crate) async fn publish(
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

#[cfg(test)]
mod tests {
    use devstack_core::parse::parse_devstack;
    use devstack_core::plan::{plan, PlanOptions};

    use super::*;

    #[test]
    fn dependencies_come_first() {
        let stack = parse_devstack(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: demo}\nspec:\n  services:\n    api: {image: 'a:1', dependsOn: [db, cache]}\n    cache: {type: redis}\n    db: {type: postgres}\n    web: {image: 'w:1', dependsOn: [api]}\n",
        )
        .unwrap();
        let plan = plan(&stack, &PlanOptions::default()).unwrap();
        assert_eq!(dependency_order(&plan), vec!["cache", "db", "api", "web"]);
    }
}
