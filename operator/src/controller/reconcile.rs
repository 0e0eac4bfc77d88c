//! One reconcile of one DevStack, in steps: dereference (through the guard) → validate + plan
//! (the CLI's code) → observe → credentials → render (pure) → ownership check → apply in start
//! order → prune → status and Events ([`report`]).

use std::sync::Arc;

use devstack_core::types::DevStack;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event as FinalizerEvent};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use tracing::Instrument;

use super::apply::{self, Key, Prepared, PARALLELISM};
use super::observe::Observed;
use super::report::{self, Outcome};
use super::write::Writer;
use super::{
    cleanup, credentials, held, node_ports, prune, reset, wake, Context, Error, KeptStack,
    FINALIZER,
};
use crate::render::RenderOptions;

/// The controller's reconcile function.
pub(crate) async fn reconcile(kept: Arc<KeptStack>, ctx: Arc<Context>) -> Result<Action, Error> {
    let guard = kept.expand();
    let meta = guard.meta();
    let span = tracing::info_span!(
        "reconcile",
        stack = meta.name.as_deref().unwrap_or_default(),
        namespace = meta.namespace.as_deref().unwrap_or_default()
    );
    async move {
        let _timer = ctx.metrics.start_reconcile();
        let started = std::time::Instant::now();
        tracing::debug!("reconcile started");
        let stack = match &guard.0 {
            Ok(stack) => stack.clone(),
            Err(invalid) => {
                report::unreadable(&guard, &invalid.error, &ctx).await;
                return Ok(Action::await_change());
            }
        };
        let namespace = stack
            .namespace()
            .ok_or_else(|| Error::NoNamespace(stack.name_any()))?;
        let api = Api::<DevStack>::namespaced(ctx.client.clone(), &namespace);
        let stack = wake::with_finalizer(&api, stack).await?;
        let result = finalizer(&api, FINALIZER, Arc::new(stack), |event| async {
            match event {
                FinalizerEvent::Apply(stack) => apply(&stack, &ctx).await,
                FinalizerEvent::Cleanup(stack) => cleanup::cleanup(&stack, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        if result.is_ok() {
            ctx.clear_failures(&ObjectRef::from_obj(kept.as_ref()));
            ctx.metrics
                .stack_reconciled(format!("{namespace}/{}", guard.name_any()));
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            ok = result.is_ok(),
            "reconcile done"
        );
        result
    }
    .instrument(span)
    .await
}

async fn apply(stack: &DevStack, ctx: &Context) -> Result<Action, Error> {
    match steps(stack, ctx).await {
        Ok(outcome) => report::report(stack, ctx, outcome).await,
        Err(error) => {
            report::failed(stack, ctx, &error).await;
            Err(error)
        }
    }
}

/// The steps between a valid DevStack and what the API server holds. Nothing is written to
/// an object that is not the stack's own: listed (without the watch caches), every rendered
/// name is known to be its own or absent before anything is written; from the caches, an
/// object they do not hold is created with a uid no object has, which fails on a same-named
/// object instead of taking it over, and the pass then reads every rendered name and stops
/// with a `Conflict` naming them all (the stack's own objects created before stay).
async fn steps(stack: &DevStack, ctx: &Context) -> Result<Outcome, Error> {
    let mut plan = match devstack_core::plan(stack, &ctx.plan_options) {
        Ok(plan) => plan,
        Err(errors) => return Ok(Outcome::Invalid(errors.to_string())),
    };
    if let Some(refused) = super::devloop::refused_host_paths(&plan, &ctx.allowed_host_paths) {
        return Ok(Outcome::Invalid(refused));
    }
    if let Some(problem) = super::rotate::check(stack, &plan) {
        return Ok(Outcome::Invalid(problem));
    }
    let (namespace, name) = (stack.namespace().unwrap_or_default(), stack.name_any());
    plan.namespace = Some(namespace.clone());
    let owner = stack
        .controller_owner_ref(&())
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let uid = owner.uid.clone();
    let writer = Writer::new(
        ctx.client.clone(),
        &namespace,
        owner,
        &ctx.metrics,
        &ctx.verified,
    );
    let cached = ctx.caches.stores(&namespace);
    let mut observed = Observed::list(
        &ctx.client,
        &namespace,
        &name,
        cached.as_ref(),
        &ctx.verified,
        stack
            .status
            .as_ref()
            .and_then(|s| s.observed_objects.as_deref()),
    )
    .await?;
    let gpu_fallback = !super::gpu_offered(&ctx.client, &plan).await?;
    let mut found = credentials::read(stack, &plan, &mut observed, &writer, true).await?;
    loop {
        let pass = Pass {
            stack,
            ctx,
            writer: &writer,
            uid: &uid,
            options: RenderOptions { gpu_fallback },
        };
        match pass.run(plan.clone(), found, &mut observed).await? {
            Passed::Done(outcome) => return Ok(outcome),
            // Read now, so this happens at most once.
            Passed::ReadCredentials => {
                found = credentials::read(stack, &plan, &mut observed, &writer, false).await?;
            }
        }
    }
}

/// How a [`Pass`] ended.
enum Passed {
    /// With this outcome.
    Done(Outcome),
    /// The credentials Secret was taken as absent without a read ([`credentials::Found`]'s
    /// `unread`) and something says it may exist: a Secret of its name met by the create
    /// (409), or data that only existing credentials open. Nothing was written; the pass is
    /// made again with the Secret read.
    ReadCredentials,
}

/// The steps after the credentials are decided: render, check, apply, prune.
struct Pass<'p> {
    stack: &'p DevStack,
    ctx: &'p Context,
    writer: &'p Writer<'p>,
    uid: &'p str,
    options: RenderOptions,
}

impl Pass<'_> {
    async fn run(
        &self,
        plan: devstack_core::plan::StackPlan,
        found: credentials::Found,
        observed: &mut Observed,
    ) -> Result<Passed, Error> {
        let (ctx, writer, name) = (self.ctx, self.writer, self.stack.name_any());
        let (reset, own, unread) = (found.reset, found.own, found.unread);
        let order = plan.start_order();
        let held_back = held::held_back(self.stack, &plan, observed);
        let prepared = Prepared::render(plan, found.credentials, self.options)?;
        let keys = prepared.keys();
        if !observed.cached() {
            observed
                .read_missing(
                    &ctx.client,
                    writer.namespace(),
                    &keys,
                    &held_back,
                    PARALLELISM,
                )
                .await?;
        }
        let conflicts = apply::conflicts(&keys, observed, writer);
        if !conflicts.is_empty() {
            return Ok(Passed::Done(Outcome::Conflict(conflicts)));
        }
        if reset.is_some() && !reset::wipe(writer, observed, &name).await? {
            return Ok(Passed::Done(Outcome::Resetting));
        }
        if reset.is_none() && !own && reset::data_exists(writer, observed, &name).await? {
            if unread {
                return Ok(Passed::ReadCredentials);
            }
            return Ok(Passed::Done(Outcome::CredentialsLost));
        }
        let mut applied = match prepared
            .apply(writer, observed, order, &ctx.metrics, &ctx.recent)
            .await
        {
            // The create of the credentials is the first write of a pass.
            Err(Error::CredentialsRace { .. }) if unread => return Ok(Passed::ReadCredentials),
            Err(error @ Error::Conflict { .. }) if observed.cached() => {
                let outcome = every_conflict(error, observed, &keys, writer, ctx).await?;
                return Ok(Passed::Done(outcome));
            }
            applied => applied?,
        };
        if !applied.taken.is_empty() {
            node_ports::find_holders(&ctx.client, &mut applied.taken).await;
        }
        prune::prune(writer, observed, &applied, self.uid, &ctx.metrics).await?;
        let (written, pruned) = (writer.written(), writer.deleted());
        Ok(Passed::Done(Outcome::Applied {
            applied: Box::new(applied),
            written,
            created: writer.created(),
            pruned,
        }))
    }
}

/// A create met a same-named object of someone else's (`error`): every rendered name (`keys`)
/// is read now, so the status names them all (nothing of theirs was written).
async fn every_conflict(
    error: Error,
    observed: &mut Observed,
    keys: &[Key],
    writer: &Writer<'_>,
    ctx: &Context,
) -> Result<Outcome, Error> {
    let none = std::collections::BTreeSet::new();
    observed
        .read_missing(&ctx.client, writer.namespace(), keys, &none, PARALLELISM)
        .await?;
    let conflicts = apply::conflicts(keys, observed, writer);
    if conflicts.is_empty() {
        return Err(error);
    }
    Ok(Outcome::Conflict(conflicts))
}
