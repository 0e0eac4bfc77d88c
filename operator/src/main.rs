//! `devstack-operator`: the DevStack controller. Client configuration is inferred the
//! standard way (`KUBECONFIG`, then the in-cluster service account).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::{Parser, ValueEnum};
use devstack_core::catalog;
use devstack_core::plan::NodePortRange;
use devstack_operator::controller::{self, http, leader, Context, Metrics, Options};
use kube::Client;
use prometheus_client::registry::Registry;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// One JSON object per line, with the stack and namespace as fields.
    Json,
    /// Human-readable lines.
    Text,
}

/// The DevStack operator: `kubectl apply` a DevStack and it is provisioned, kept and reported.
#[derive(Debug, Parser)]
#[command(name = "devstack-operator", version)]
struct Args {
    /// Namespace to watch (repeatable, or comma-separated in the env var); all namespaces when
    /// none is given.
    #[arg(
        long = "namespace",
        value_name = "NS",
        env = "DEVSTACK_OPERATOR_NAMESPACES",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Address of the /metrics, /livez and /readyz endpoints.
    #[arg(
        long,
        env = "DEVSTACK_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_addr: SocketAddr,
    /// Run the controller only while holding the leader Lease (for several replicas).
    #[arg(long, env = "DEVSTACK_OPERATOR_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the leader Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long, env = "DEVSTACK_OPERATOR_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(
        long,
        env = "DEVSTACK_OPERATOR_LEASE_NAME",
        default_value = "devstack-operator"
    )]
    lease_name: String,
    /// Log format.
    #[arg(long, env = "DEVSTACK_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Concurrent reconciles (0: unbounded); one stack is never reconciled twice at once.
    #[arg(long, env = "DEVSTACK_OPERATOR_CONCURRENCY", default_value_t = 16)]
    concurrency: u16,
    /// Debounce of reconcile requests in milliseconds (0: none): watch events of one stack
    /// arriving within this window (its own objects being created, a Deployment's status
    /// updates) make one reconcile instead of several.
    #[arg(long, env = "DEVSTACK_OPERATOR_DEBOUNCE_MS", default_value_t = 0)]
    debounce_ms: u64,
    /// Replace the image of a catalog type, as the CLI's flag does (repeatable, or
    /// comma-separated in the env var).
    #[arg(
        long = "image-override",
        value_name = "TYPE=IMAGE",
        env = "DEVSTACK_OPERATOR_IMAGE_OVERRIDES",
        value_delimiter = ','
    )]
    image_overrides: Vec<String>,
    /// The API server's --service-node-port-range: a stack's host ports become node ports
    /// inside it (well-known and control-plane ports are refused).
    #[arg(
        long = "node-port-range",
        value_name = "FIRST-LAST",
        env = "DEVSTACK_OPERATOR_NODE_PORT_RANGE",
        default_value = "30000-32767"
    )]
    node_ports: NodePortRange,
    /// Allow a stack's `mounts` as hostPath volumes under this host path prefix (repeatable,
    /// or comma-separated in the env var). None by default: a hostPath reaches the node's
    /// file system, so a namespace at Pod Security `baseline` or `restricted` refuses such
    /// pods anyway, and on a shared cluster it is a privilege.
    #[arg(
        long = "allow-host-path",
        value_name = "PREFIX",
        env = "DEVSTACK_OPERATOR_ALLOW_HOST_PATHS",
        value_delimiter = ','
    )]
    allowed_host_paths: Vec<String>,
}

fn parse_overrides(values: &[String]) -> Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    for value in values {
        let Some((type_name, image)) = value
            .split_once('=')
            .filter(|(t, i)| !t.is_empty() && !i.is_empty())
        else {
            bail!("--image-override {value:?}: expected TYPE=IMAGE, for example postgres=registry.local/postgres:18.1");
        };
        if catalog::lookup(type_name).is_none() {
            bail!(
                "--image-override {value:?}: unknown catalog type {type_name:?}; known types: {}",
                catalog::type_names().collect::<Vec<_>>().join(", ")
            );
        }
        overrides.insert(type_name.to_string(), image.to_string());
    }
    Ok(overrides)
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    let options = Options {
        namespaces: args.namespaces.clone(),
        concurrency: args.concurrency,
        debounce: std::time::Duration::from_millis(args.debounce_ms),
        image_overrides: parse_overrides(&args.image_overrides)?,
        node_ports: args.node_ports,
        allowed_host_paths: args.allowed_host_paths.clone(),
    };
    let client = Client::try_default()
        .await
        .context("no Kubernetes client configuration (KUBECONFIG or in-cluster)")?;

    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let health = Arc::new(http::Health::default());
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {}", args.metrics_addr))?;
    info!(addr = %listener.local_addr()?, "serving /metrics, /livez, /readyz");
    tokio::spawn(http::serve(listener, Arc::new(registry), health.clone()));

    tokio::select! {
        result = controller::wait_for_crd(&client) => result.context("waiting for the DevStack CRD")?,
        _ = shutdown_signal() => return Ok(()),
    }
    health.set_ready();
    let ctx = Arc::new(Context::new(client.clone(), &options, metrics));

    if !args.leader_elect {
        controller::run(ctx, &options).await;
        return Ok(());
    }
    let namespace = args
        .lease_namespace
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into());
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        format!(
            "devstack-operator-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        )
    });
    let leadership = tokio::select! {
        held = leader::acquire(client, &namespace, &args.lease_name, &identity) => held.context("leader election")?,
        _ = shutdown_signal() => return Ok(()),
    };
    tokio::select! {
        () = controller::run(ctx, &options) => Ok(()),
        () = leadership.lost() => {
            warn!("lost the leader Lease; stopping so that only the new holder writes");
            bail!("lost the leader Lease")
        }
    }
}
