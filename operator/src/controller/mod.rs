//! The DevStack controller (kube-runtime): one reconcile per stack, in the order
//! dereference → validate + plan → observe → credentials → render (pure) → apply → prune →
//! status.
//!
//! - `reconcile`: the steps above (a short function over the step modules) and the start order.
//! - `observe`: the stack's live objects, read once per reconcile.
//! - `cache`: the watch caches of the owned kinds (metadata, workloads without templates,
//!   Secrets), read instead of listing them.
//! - `verified`: the version at which the operator last saw each object hold what it wants.
//! - `digest`: that record carried over a restart in `status.observedObjects`.
//! - `held`: workloads held back for their dependencies, read only when they are created.
//! - `ownership`: which objects are the stack's own; everything else is a `Conflict`.
//! - `write`: the single write path (server-side apply, deletion by uid) of every step.
//! - `credentials`: the credentials Secret, created once, never garbage-collected.
//! - `apply`: `Prepared` (rendered) → `Applied` (what the API server returned), in start order.
//! - `prune`: objects of services no longer rendered.
//! - `node_ports`: a planned node port someone else holds (`Stalled`, `NodePortTaken`).
//! - `reset`: the reset annotation, carried out once per value.
//! - `cleanup`: the finalizer (retained data).
//! - `triggers`: the owned-object watches that wake a stack (readiness, edits, deletions).
//! - `wake`: what wakes a reconcile (not a status write); the finalizer added in the same pass.
//! - `woken`: what an owned object's event hands the controller (whom it wakes).
//! - `status`, `report`: kstatus conditions from what the API server returned, and every Event.
//! - `events`: publishes them (a repeat within six minutes a series, as kube's recorder).
//! - [`metrics`], [`http`]: `/metrics`, `/livez`, `/readyz`.
//! - [`leader`]: the Lease that makes one replica of several the writer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devstack_core::plan::{NodePortRange, PlanOptions, StackPlan};
use devstack_core::types::DevStack;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ListParams, PartialObjectMeta};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{wait, watcher, PredicateConfig, WatchStreamExt};
use kube::{Api, Client, CustomResourceExt, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

mod apply;
mod cache;
mod cleanup;
#[cfg(test)]
mod create_tests;
mod credentials;
mod devloop;
mod digest;
#[cfg(test)]
mod digest_tests;
mod error;
mod events;
#[cfg(test)]
mod fixtures;
pub mod footprint;
mod held;
mod hold;
pub mod http;
mod interned;
mod kept;
mod kept_stack;
pub mod leader;
mod listing;
pub mod metrics;
mod node_ports;
mod observe;
mod ownership;
mod packed;
#[cfg(test)]
mod path_tests;
mod prune;
mod recent;
mod reconcile;
mod report;
#[cfg(test)]
mod request_tests;
mod reset;
mod rotate;
mod scrape_status;
mod status;
#[cfg(test)]
mod tests;
mod triggers;
mod verified;
mod wake;
mod woken;
mod write;

pub use kept_stack::KeptStack;

pub use reset::ANNOTATION_LAST_RESET;
pub use rotate::{ANNOTATION_LAST_ROTATE, ANNOTATION_ROTATE};

pub use error::Error;
pub use metrics::Metrics;

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "devstack-operator";
/// Finalizer on every DevStack: deletion first releases retained data from garbage collection.
pub const FINALIZER: &str = "devstack.dev/cleanup";
/// Annotation on applied objects: a hash of what the operator wants the object to be.
pub const ANNOTATION_DESIRED_HASH: &str = "devstack.dev/desired-hash";
/// Annotation on a DevStack requesting a reset: every data volume and the credentials are
/// wiped and created anew, once per distinct value (`kubectl annotate devstack/NAME
/// devstack.dev/reset=$(date +%s) --overwrite`).
pub const ANNOTATION_RESET: &str = "devstack.dev/reset";

/// What the operator was started with.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// Concurrent reconciles (0: unbounded).
    pub concurrency: u16,
    /// Debounce of reconcile requests (zero: none).
    pub debounce: Duration,
    /// Catalog image overrides (`postgres=registry.local/postgres:18.1`).
    pub image_overrides: BTreeMap<String, String>,
    /// The cluster's node port range: host ports become node ports inside it.
    pub node_ports: NodePortRange,
    /// Host path prefixes a stack's `mounts` may use as `hostPath` volumes (none by default).
    pub allowed_host_paths: Vec<String>,
}

/// Shared by every reconcile.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Plan options (image overrides).
    pub plan_options: PlanOptions,
    /// Metrics.
    pub metrics: Metrics,
    /// Publishes Events.
    pub recorder: events::Recorder,
    /// Host path prefixes `mounts` may use ([`Options::allowed_host_paths`]).
    pub allowed_host_paths: Vec<String>,
    /// Consecutive failures per stack, for the backoff.
    failures: Mutex<HashMap<ObjectRef<KeptStack>, u32>>,
    /// The watch caches of the owned workloads, by watched namespace (none in unit tests).
    caches: cache::Caches,
    /// What the operator last saw each object hold ([`verified`]).
    verified: Arc<verified::Verified>,
    /// Progressing stacks whose status waits ([`hold`]).
    holds: hold::Holds,
    /// Workloads created moments ago ([`recent`]).
    recent: recent::Recent,
}

impl Context {
    /// A context for `client`.
    pub fn new(client: Client, options: &Options, metrics: Metrics) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: events::Recorder::new(client.clone(), reporter),
            client,
            plan_options: PlanOptions {
                profiles: None,
                image_overrides: options.image_overrides.clone(),
                node_ports: options.node_ports,
                // The operator cannot read the user's machine: `source` files are refused.
                file_sources: None,
                ..PlanOptions::default()
            },
            metrics,
            allowed_host_paths: options.allowed_host_paths.clone(),
            failures: Mutex::new(HashMap::new()),
            caches: cache::Caches::default(),
            verified: Arc::default(),
            holds: hold::Holds::default(),
            recent: recent::Recent::default(),
        }
    }

    fn record_failure(&self, object: ObjectRef<KeptStack>) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(object).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    fn clear_failures(&self, object: &ObjectRef<KeptStack>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(object);
    }
}

/// Whether some node offers `nvidia.com/gpu` to the stack's GPU services: the operator's choice
/// between the plain rendering and the CPU fallback (`RenderOptions::gpu_fallback`), made by
/// the renderer's pure [`crate::render::gpu_offered`] over the cluster's nodes. Nodes are
/// listed only when an active service wants GPUs that are not required (the others do not
/// depend on the answer).
pub async fn gpu_offered(client: &Client, plan: &StackPlan) -> Result<bool, Error> {
    if !crate::render::gpu::needs_nodes(plan) {
        return Ok(true);
    }
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(Error::kube("list", "Node", "*"))?;
    Ok(crate::render::gpu_offered(plan, &nodes.items))
}

/// Waits until the DevStack CRD is installed and Established.
pub async fn wait_for_crd(client: &Client) -> Result<(), wait::Error> {
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let name = DevStack::crd_name();
    info!(crd = name, "waiting for the CRD to be established");
    wait::await_condition(crds, name, wait::conditions::is_crd_established()).await?;
    info!(crd = name, "CRD established");
    Ok(())
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Runs one controller per watched namespace (or one for all) until a shutdown signal.
pub async fn run(ctx: Arc<Context>, options: &Options) {
    let namespaces: Vec<Option<String>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options.namespaces.iter().cloned().map(Some).collect()
    };
    let controllers = namespaces
        .into_iter()
        .map(|namespace| namespace_controller(&ctx, namespace, options));
    futures::future::join_all(controllers).await;
}

/// The controller of one namespace (`None`: all): its DevStacks, woken by their own changes
/// and by those of the objects they own.
fn namespace_controller(
    ctx: &Arc<Context>,
    namespace: Option<String>,
    options: &Options,
) -> impl std::future::Future<Output = ()> {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    info!(namespace = ns.unwrap_or("*"), "watching DevStacks");
    // The DevStack cache keeps each stack without managedFields (several KiB of field sets
    // that no reconcile reads), its spec and status as text ([`KeptStack`]).
    let (reader, writer) = reflector::store();
    let stacks_api = api::<KeptStack>(&client, ns);
    let stacks = listing::streamed_or_paged(
        move |config| watcher(stacks_api.clone(), config),
        watcher::Config::default(),
    )
    .default_backoff()
    .modify(|stack| stack.managed_fields_mut().clear())
    .reflect(writer)
    .applied_objects()
    .predicate_filter(wake::wake_hash, PredicateConfig::default());
    owned_watches(
        Controller::for_stream(stacks, reader),
        ctx,
        namespace.clone(),
    )
    .with_config(
        controller::Config::default()
            .concurrency(options.concurrency)
            .debounce(options.debounce),
    )
    .shutdown_on_signal()
    .run(reconcile::reconcile, error_policy, ctx.clone())
    .for_each(|result| async move {
        if let Err(error) = result {
            match error {
                controller::Error::ReconcilerFailed(..) => {} // logged by error_policy
                other => warn!(error = %other, "controller"),
            }
        }
    })
}

/// `controller` watching the six owned kinds of `namespace`, each into the store the
/// reconciles of that namespace read (registered in `ctx.caches`).
fn owned_watches(
    controller: Controller<KeptStack>,
    ctx: &Context,
    namespace: Option<String>,
) -> Controller<KeptStack> {
    let (client, ns) = (&ctx.client, namespace.as_deref());
    let (secrets, secrets_writer) = cache::store();
    let (config_maps, config_maps_writer) = cache::store();
    let (policies, policies_writer) = cache::store();
    let (services, services_writer) = cache::store();
    let (deployments, deployments_writer) = cache::store();
    let (statefulsets, statefulsets_writer) = cache::store();
    let stores = cache::Stores {
        secrets,
        config_maps,
        policies,
        services,
        deployments,
        statefulsets,
    };
    ctx.caches.register(namespace.clone(), stores);
    let verified = || ctx.verified.clone();
    controller
        .owns_stream(triggers::objects(
            api::<Secret>(client, ns),
            secrets_writer,
            verified(),
            ns,
        ))
        .owns_stream(triggers::metadata(
            api::<PartialObjectMeta<ConfigMap>>(client, ns),
            config_maps_writer,
            verified(),
            ns,
        ))
        .owns_stream(triggers::metadata(
            api::<PartialObjectMeta<NetworkPolicy>>(client, ns),
            policies_writer,
            verified(),
            ns,
        ))
        .owns_stream(triggers::metadata(
            api::<PartialObjectMeta<Service>>(client, ns),
            services_writer,
            verified(),
            ns,
        ))
        .owns_stream(triggers::workloads(
            api::<Deployment>(client, ns),
            deployments_writer,
            verified(),
            ns,
        ))
        .owns_stream(triggers::workloads(
            api::<StatefulSet>(client, ns),
            statefulsets_writer,
            verified(),
            ns,
        ))
}

/// Transient failures: requeue with exponential backoff (1 s doubling to 5 min).
fn error_policy(object: Arc<KeptStack>, error: &Error, ctx: Arc<Context>) -> Action {
    let reason = error.metric_label();
    ctx.metrics.failure(&reason);
    let attempt = ctx.record_failure(ObjectRef::from_obj(object.as_ref()));
    let delay =
        Duration::from_secs(1u64 << attempt.min(9).saturating_sub(1)).min(Duration::from_secs(300));
    let meta = object.meta();
    warn!(
        stack = meta.name.as_deref().unwrap_or_default(),
        namespace = meta.namespace.as_deref().unwrap_or_default(),
        %reason,
        %error,
        retry_in_s = delay.as_secs(),
        "reconcile failed"
    );
    Action::requeue(delay)
}
