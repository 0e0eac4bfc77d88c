//! Render (pure) → [`Prepared`] → apply → [`Applied`]: the stack's objects written through the
//! [`Writer`] in start order, and what the API server returned for each workload. The status
//! is computed from an [`Applied`] only, never from what was merely wanted.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::plan::StackPlan;
use futures::{FutureExt, StreamExt, TryFutureExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::ByteString;
use kube::api::ListParams;
use kube::Api;

use super::credentials::{self, Credentials};
use super::error::Error;
use super::node_ports::{self, TakenPort};
use super::observe::{self, Observed, OwnedKind};
use super::ownership::Claim;
use super::recent::Recent;
use super::status::{self, ServiceOutcome};
use super::write::{Tie, Writer};
use super::Metrics;
use crate::render::{render_with, K8sObject, RenderError, RenderOptions};

/// Requests one reconcile keeps in flight for independent objects. Unbounded, 64 reconciles of
/// 5-service stacks (the 1,000-stack benchmark) kept ~300 writes in flight and the API server
/// answered 1,231 of them with 504 Gateway Timeout, which the client retried.
pub(crate) const PARALLELISM: usize = 4;

/// `(kind, name)` of an object.
pub(crate) type Key = (String, String);

/// The rendered stack, ready to be written.
pub(crate) struct Prepared {
    plan: StackPlan,
    options: RenderOptions,
    credentials: Credentials,
    objects: Vec<K8sObject>,
}

/// What the API server holds after the writes.
pub(crate) struct Applied {
    /// The plan that was applied.
    pub plan: StackPlan,
    /// The rendering choices (GPU fallback).
    pub options: RenderOptions,
    /// Each active service's workload as the server returned it.
    pub outcomes: BTreeMap<String, ServiceOutcome>,
    /// Every rendered object (what prune keeps).
    pub keep: BTreeSet<Key>,
    /// The reset carried out by this write of the credentials, if any.
    pub reset: Option<String>,
    /// Published ports whose node port someone else holds (their Service was refused).
    pub taken: Vec<TakenPort>,
}

impl Prepared {
    /// Renders `plan` with `credentials`.
    pub(crate) fn render(
        plan: StackPlan,
        credentials: Credentials,
        options: RenderOptions,
    ) -> Result<Self, RenderError> {
        let objects = render_with(&plan, Some(&credentials.values), options)?;
        Ok(Prepared {
            plan,
            options,
            credentials,
            objects,
        })
    }

    /// `(kind, name)` of every rendered object.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.objects
            .iter()
            .map(|o| (o.kind().to_string(), o.name().to_string()))
            .collect()
    }

    /// Writes the credentials, then the independent objects (Secrets, policies, Services;
    /// concurrently), then the workloads in `order`, each wave of workloads whose dependencies
    /// are decided concurrently ([`next_wave`]): a workload is created only once every
    /// dependency is Ready.
    pub(crate) async fn apply(
        self,
        writer: &Writer<'_>,
        observed: &Observed,
        order: Vec<String>,
        metrics: &Metrics,
        recent: &Recent,
    ) -> Result<Applied, Error> {
        let credentials_name = self.plan.credentials_secret_name();
        let keep: BTreeSet<Key> = self
            .objects
            .iter()
            .map(|o| (o.kind().to_string(), o.name().to_string()))
            .collect();
        let mut independent = Vec::new();
        let mut workloads = BTreeMap::new();
        let mut reset = None;
        for object in self.objects {
            match object {
                K8sObject::Secret(secret) if object_name(&secret) == credentials_name => {
                    let live = observed.get::<Secret>(&credentials_name);
                    credentials::write(writer, secret, &self.credentials, live, metrics).await?;
                    if self.credentials.fresh() {
                        reset = self.credentials.last_reset().map(str::to_string);
                    }
                }
                K8sObject::Secret(secret) => {
                    independent.push(ensure(writer, observed, with_data(secret)))
                }
                K8sObject::ConfigMap(files) => independent.push(ensure(writer, observed, files)),
                K8sObject::NetworkPolicy(policy) => {
                    independent.push(ensure(writer, observed, policy))
                }
                K8sObject::Service(service) => independent.push(ensure(writer, observed, service)),
                workload => {
                    workloads.insert(workload.name().to_string(), workload);
                }
            }
        }
        // Every independent object is written even when a planned node port is taken (the
        // stack works in the cluster; only that published port does not).
        let mut taken = Vec::new();
        let results: Vec<Result<(), Error>> = futures::stream::iter(independent)
            .buffer_unordered(PARALLELISM)
            .collect()
            .await;
        for result in results {
            if let Err(error) = result {
                taken.push(node_ports::taken(&error, &self.plan).ok_or(error)?);
            }
        }
        let mut outcomes: BTreeMap<String, ServiceOutcome> = BTreeMap::new();
        let mut pending: Vec<String> = order
            .into_iter()
            .filter(|s| workloads.contains_key(s))
            .collect();
        while !pending.is_empty() {
            let wave = next_wave(&self.plan, &mut pending);
            let writes = wave.into_iter().filter_map(|service| {
                let workload = workloads.remove(&service)?;
                let waiting_for: Vec<String> = self.plan.services[&service]
                    .depends_on
                    .iter()
                    .filter(|d| !outcomes.get(&d.service).is_some_and(|o| o.ready))
                    .map(|d| d.service.clone())
                    .collect();
                let outcome = workload_outcome(writer, observed, recent, workload, waiting_for);
                Some(outcome.map_ok(move |outcome| (service, outcome)).boxed())
            });
            // In order, so the first error met is the first in start order.
            let written: Vec<Result<(String, ServiceOutcome), Error>> =
                futures::stream::iter(writes.collect::<Vec<_>>())
                    .buffered(PARALLELISM)
                    .collect()
                    .await;
            for result in written {
                let (service, outcome) = result?;
                outcomes.insert(service, outcome);
            }
        }
        Ok(Applied {
            plan: self.plan,
            options: self.options,
            outcomes,
            keep,
            reset,
            taken,
        })
    }
}

/// Takes from `pending` (in start order) the workloads none of whose dependencies is still
/// pending: their dependencies' outcomes in this pass are known, so they are written together
/// (concurrently), the way a level of the stack becomes ready together. Never empty while
/// `pending` is not (a plan has no cycles; should one slip through, the first goes alone).
fn next_wave(plan: &StackPlan, pending: &mut Vec<String>) -> Vec<String> {
    let blocked = |service: &String| {
        plan.services
            .get(service)
            .is_some_and(|s| s.depends_on.iter().any(|d| pending.contains(&d.service)))
    };
    let (mut wave, rest): (Vec<String>, Vec<String>) =
        pending.iter().cloned().partition(|s| !blocked(s));
    *pending = rest;
    if wave.is_empty() && !pending.is_empty() {
        wave.push(pending.remove(0));
    }
    wave
}

/// Every rendered object (`keys`) whose live namesake is not the stack's own, as
/// `Kind name: why` (nothing may be written while there is one).
pub(crate) fn conflicts(keys: &[Key], observed: &Observed, writer: &Writer<'_>) -> Vec<String> {
    fn check<K: OwnedKind>(observed: &Observed, writer: &Writer<'_>, name: &str) -> Option<String> {
        match writer.claim(observed.get::<K>(name)?) {
            Claim::Ours => None,
            Claim::Foreign(why) => Some(format!("{} {name}: {why}", K::kind(&()))),
        }
    }
    keys.iter()
        .filter_map(|(kind, name)| match kind.as_str() {
            "Secret" => check::<Secret>(observed, writer, name),
            "ConfigMap" => check::<ConfigMap>(observed, writer, name),
            "NetworkPolicy" => check::<NetworkPolicy>(observed, writer, name),
            "Service" => check::<Service>(observed, writer, name),
            "Deployment" => check::<Deployment>(observed, writer, name),
            "StatefulSet" => check::<StatefulSet>(observed, writer, name),
            _ => None,
        })
        .collect()
}

fn ensure<'w, K: OwnedKind>(
    writer: &'w Writer<'_>,
    observed: &'w Observed,
    object: K,
) -> futures::future::BoxFuture<'w, Result<(), Error>> {
    let name = object.meta().name.clone().unwrap_or_default();
    writer
        .apply(object, observed.get::<K>(&name), Tie::Owned, false)
        .map_ok(drop)
        .boxed()
}

/// Applies one workload (created only when `waiting_for` is empty) and reads its readiness
/// from what the server returned.
async fn workload_outcome(
    writer: &Writer<'_>,
    observed: &Observed,
    recent: &Recent,
    workload: K8sObject,
    waiting_for: Vec<String>,
) -> Result<ServiceOutcome, Error> {
    let create = waiting_for.is_empty();
    let just_created = ServiceOutcome::default();
    let (exists, ready, refused) = match workload {
        K8sObject::Deployment(d) => {
            // The pod template as wanted: the cache keeps none ([`super::cache`]).
            let wanted = d.clone();
            // Boxed: a reconcile's future is large enough without it.
            let written = Box::pin(write_workload(writer, observed, recent, d, create));
            let live = match written.await? {
                Workload::JustCreated => return Ok(just_created),
                Workload::Absent => None,
                Workload::Live(live) => Some(live),
            };
            let ready = live.as_ref().is_some_and(status::deployment_ready);
            let mut refused = live
                .as_ref()
                .filter(|_| !ready)
                .and_then(status::replica_failure);
            if live.is_some() && !ready && refused.is_none() {
                refused = super::devloop::image_not_built(writer, &wanted).await;
            }
            (live.is_some(), ready, refused)
        }
        K8sObject::StatefulSet(s) => {
            // Boxed: a reconcile's future is large enough without it.
            let written = Box::pin(write_workload(writer, observed, recent, s, create));
            let live = match written.await? {
                Workload::JustCreated => return Ok(just_created),
                Workload::Absent => None,
                Workload::Live(live) => Some(live),
            };
            let ready = live.as_ref().is_some_and(status::statefulset_ready);
            // No pod at all although the StatefulSet controller has seen this generation: it
            // says why only in an Event (a StatefulSet it has not handled yet is not read about).
            let refused = match &live {
                Some(s) if !ready && no_pod_seen(s) => failed_create(writer, object_name(s)).await,
                _ => None,
            };
            (live.is_some(), ready, refused)
        }
        _ => (false, false, None),
    };
    let waiting_for = if exists { Vec::new() } else { waiting_for };
    Ok(ServiceOutcome {
        ready,
        waiting_for,
        refused,
    })
}

/// What became of a workload in this pass.
enum Workload<K> {
    /// Absent, and not created (it waits for a dependency).
    Absent,
    /// As the server returned it (or the cache holds it, unchanged).
    Live(K),
    /// Absent from the cache, but created by this operator moments ago ([`Recent`]): not
    /// created again. It counts as existing and not ready.
    JustCreated,
}

/// Applies the workload `desired` (an absent one only with `create`).
async fn write_workload<K: OwnedKind>(
    writer: &Writer<'_>,
    observed: &Observed,
    recent: &Recent,
    desired: K,
    create: bool,
) -> Result<Workload<K>, Error> {
    let (kind, name) = (K::kind(&()), object_name(&desired).to_string());
    let namespace = writer.namespace();
    let live = live_or_read::<K>(writer, observed, &name, create).await?;
    match (live, create) {
        (None, false) => Ok(Workload::Absent),
        (None, true) if observed.cached() && recent.take(&kind, namespace, &name) => {
            Ok(Workload::JustCreated)
        }
        (live, _) => {
            let absent = live.is_none();
            if !absent {
                recent.seen(&kind, namespace, &name);
            }
            let written = writer
                .apply(desired, live.as_ref(), Tie::Owned, false)
                .await?;
            if absent {
                recent.created(&kind, namespace, &name);
            }
            Ok(Workload::Live(written))
        }
    }
}

/// The live workload `name`: as observed, else (when it is about to be created and was held
/// back from the reads at the start) read by name now, so a same-named object of someone
/// else's is refused by the write path instead of written over. Not read when the objects
/// came from the watch caches: the create itself fails on a same-named object
/// ([`Observed::cached`]).
async fn live_or_read<K: OwnedKind>(
    writer: &Writer<'_>,
    observed: &Observed,
    name: &str,
    create: bool,
) -> Result<Option<K>, Error> {
    if let Some(live) = observed.get::<K>(name) {
        return Ok(Some(live.clone()));
    }
    if !create || observed.cached() || observed.was_read(&K::kind(&()), name) {
        return Ok(None);
    }
    observe::read_one::<K>(writer.client(), writer.namespace(), name).await
}

/// Whether the StatefulSet controller handled the current generation and made no pod.
fn no_pod_seen(s: &StatefulSet) -> bool {
    s.status.as_ref().is_some_and(|st| {
        st.replicas == 0
            && st
                .observed_generation
                .is_some_and(|g| Some(g) >= s.metadata.generation)
    })
}

/// The message of the latest `FailedCreate` Event of StatefulSet `name` (pods refused, e.g.
/// by the namespace's Pod Security level). Best-effort: a failed read is no answer.
async fn failed_create(writer: &Writer<'_>, name: &str) -> Option<String> {
    let selector =
        format!("involvedObject.kind=StatefulSet,involvedObject.name={name},reason=FailedCreate");
    let events = Api::<Event>::namespaced(writer.client().clone(), writer.namespace())
        .list(&ListParams::default().fields(&selector))
        .await
        .ok()?;
    events
        .items
        .into_iter()
        .max_by_key(|e| e.last_timestamp.clone().map(|t| t.0))
        .and_then(|e| e.message)
}

fn object_name<K: OwnedKind>(object: &K) -> &str {
    object.meta().name.as_deref().unwrap_or_default()
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
