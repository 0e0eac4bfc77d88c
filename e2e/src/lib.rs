//! Helpers for devstack's end-to-end tests.
//!
//! - [`client`]: a [`kube::Client`] for the local control plane that `e2e/cluster.sh up`
//!   starts (or whatever `KUBECONFIG` points at).
//! - [`TestNamespace`]: a fresh, uniquely named namespace that is deleted afterwards.
//! - [`docker_host`]: the Docker endpoint (`DOCKER_HOST`, else `e2e/docker.sh endpoint`).
//! - [`helm`]: Helm from the harness and the operator's chart.
//! - [`kubectl`]: blocking kubectl for tests that apply YAML and exec into real pods.
//! - [`bin`]: the workspace's binaries (`devstack`, `devstack-operator`), built on first use.
//! - [`examples`]: the example stacks as `devstack apply` applies them (absolute paths).
//!
//! Workloads land on the harness's real kubelet node; a test that wants the kwok node (pods
//! Ready without running, any image) uses [`TestNamespace::on_kwok`] (or
//! [`kubectl::kwok_namespace_annotations`] on a namespace of its own).
//!
//! Nothing here skips: when the cluster or the Docker engine is not there, the helpers
//! return (or, for [`docker_host`], panic with) an error that says how to start it, so a
//! test that needs them fails loudly.

pub mod bin;
pub mod compose;
pub mod examples;
pub mod helm;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

pub mod kubectl;
mod namespace;

pub use namespace::TestNamespace;

/// How long [`client`] waits for the API server to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Label put on every namespace a [`TestNamespace`] creates.
pub const TEST_NAMESPACE_LABEL: &str = "devstack.dev/e2e";

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// Runs `bash e2e/<script> <args>` from the workspace root and returns its trimmed stdout.
pub(crate) fn run_script(script: &str, args: &[&str]) -> Result<String> {
    let root = workspace_root();
    let path = root.join("e2e").join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .current_dir(&root)
        .output()
        .with_context(|| format!("running {} {}", path.display(), args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            path.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8(out.stdout)
        .with_context(|| format!("{} {} printed non-UTF-8", path.display(), args.join(" ")))?;
    Ok(stdout.trim().to_string())
}

/// The locally built images as `type=image` lines: `DEVSTACK_LOCAL_IMAGES` (`type=image,...`,
/// as scripts/test.sh exports it), else `e2e/docker.sh images`.
fn local_images() -> Result<String> {
    match std::env::var("DEVSTACK_LOCAL_IMAGES") {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => run_script("docker.sh", &["images"]),
    }
}

/// The locally built image of catalog type `type_name` (postgres, redis). The real node's
/// containerd holds the same names.
pub fn local_image(type_name: &str) -> Result<String> {
    let lines = local_images()?;
    let prefix = format!("{type_name}=");
    lines
        .split([',', '\n'])
        .find_map(|l| l.trim().strip_prefix(&prefix).map(str::to_string))
        .ok_or_else(|| {
            anyhow!("no local image for {type_name} in {lines:?} (e2e/docker.sh images)")
        })
}

/// Local images of the tests' own services, not catalog types (e2e/images/otel-app).
pub const TEST_ONLY_IMAGES: &[&str] = &["otel-app"];

/// `--image-override TYPE=IMAGE` for every locally built image of a catalog type, as the CLI
/// and the operator take them (test-only images such as `otel-app` are not catalog types).
pub fn local_image_overrides() -> Result<Vec<String>> {
    Ok(local_images()?
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            l.split_once('=')
                .is_some_and(|(t, _)| !TEST_ONLY_IMAGES.contains(&t))
        })
        .flat_map(|l| ["--image-override".to_string(), l.to_string()])
        .collect())
}

/// Where the admin kubeconfig comes from: `KUBECONFIG` if set, else `e2e/cluster.sh kubeconfig`.
pub fn kubeconfig_source() -> Result<String> {
    match std::env::var("KUBECONFIG") {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => run_script("cluster.sh", &["kubeconfig"]).context(
            "KUBECONFIG is not set and the local test cluster is not up; \
             start it with `e2e/cluster.sh up`",
        ),
    }
}

/// The client configuration for the test cluster (admin credentials).
pub async fn config() -> Result<Config> {
    let source = kubeconfig_source()?;
    let mut merged: Option<Kubeconfig> = None;
    for path in std::env::split_paths(&source) {
        if path.as_os_str().is_empty() {
            continue;
        }
        let kc = Kubeconfig::read_from(&path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        merged = Some(match merged {
            Some(m) => m.merge(kc).context("merging kubeconfigs")?,
            None => kc,
        });
    }
    let kc = merged.ok_or_else(|| anyhow!("kubeconfig path {source:?} names no file"))?;
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {source}"))
}

/// Builds a client from `config` and checks that the API server answers.
pub async fn client_from_config(config: Config) -> Result<Client> {
    let url = config.cluster_url.clone();
    let client = Client::try_from(config).context("building the Kubernetes client")?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(anyhow!(e).context(format!(
            "the Kubernetes API at {url} is not reachable; start the test cluster with `e2e/cluster.sh up`"
        ))),
        Err(_) => bail!(
            "the Kubernetes API at {url} did not answer within {CONNECT_TIMEOUT:?}; \
             start the test cluster with `e2e/cluster.sh up`"
        ),
    }
}

/// An admin client for the test cluster. Fails (never skips) when it is not reachable.
pub async fn client() -> Result<Client> {
    client_from_config(config().await?).await
}

/// A client that impersonates `user` (for example
/// `system:serviceaccount:NS:NAME`) with the given groups, using the admin credentials.
pub async fn impersonating_client(user: &str, groups: &[&str]) -> Result<Client> {
    let mut cfg = config().await?;
    cfg.auth_info.impersonate = Some(user.to_string());
    cfg.auth_info.impersonate_groups = if groups.is_empty() {
        None
    } else {
        Some(groups.iter().map(|g| (*g).to_string()).collect())
    };
    client_from_config(cfg).await
}

/// A client that authenticates with a bearer `token` only (for example one from a
/// ServiceAccount TokenRequest), trusting the test cluster's CA.
pub async fn token_client(token: &str) -> Result<Client> {
    let mut cfg = config().await?;
    cfg.auth_info = serde_json::from_value(serde_json::json!({ "token": token }))
        .context("building token credentials")?;
    client_from_config(cfg).await
}

/// Writes `DIR/kubeconfig` for the test cluster that authenticates with `token` only (for a
/// process that must run as a ServiceAccount, e.g. the operator with its chart's account)
/// and returns its path. The cluster's CA is copied to `DIR/ca.crt` when the admin kubeconfig
/// names it by path, so the directory alone is enough (mount it at the same path in a
/// container).
pub fn token_kubeconfig(dir: &Path, token: &str) -> Result<PathBuf> {
    let source = kubeconfig_source()?;
    let admin = std::env::split_paths(&source)
        .find(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| anyhow!("kubeconfig path {source:?} names no file"))?;
    let kc = Kubeconfig::read_from(&admin)
        .with_context(|| format!("reading kubeconfig {}", admin.display()))?;
    let context = kc
        .contexts
        .iter()
        .find(|c| Some(&c.name) == kc.current_context.as_ref())
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| anyhow!("{} has no current context", admin.display()))?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| anyhow!("{} names no cluster {}", admin.display(), context.cluster))?;
    let server = cluster
        .server
        .clone()
        .ok_or_else(|| anyhow!("{}: cluster without a server", admin.display()))?;
    let mut entry = serde_json::json!({ "server": server });
    if let Some(data) = &cluster.certificate_authority_data {
        entry["certificate-authority-data"] = data.clone().into();
    } else if let Some(ca) = &cluster.certificate_authority {
        let copy = dir.join("ca.crt");
        std::fs::copy(ca, &copy).with_context(|| format!("copying the CA {ca}"))?;
        entry["certificate-authority"] = copy.to_string_lossy().into_owned().into();
    }
    // JSON is YAML: every kubeconfig reader takes it.
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "test", "cluster": entry }],
        "users": [{ "name": "token", "user": { "token": token } }],
        "contexts": [{ "name": "test", "context": { "cluster": "test", "user": "token" } }],
        "current-context": "test",
    });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig.to_string())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A token of the ServiceAccount `namespace/name`, valid for an hour (TokenRequest).
pub async fn service_account_token(client: Client, namespace: &str, name: &str) -> Result<String> {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(client, namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .with_context(|| format!("requesting a token of {namespace}/{name}"))?
        .status
        .and_then(|s| s.token)
        .ok_or_else(|| anyhow!("the TokenRequest for {namespace}/{name} returned no token"))
}

/// The Docker endpoint for the tests: `DOCKER_HOST` if set, else `e2e/docker.sh endpoint`.
pub fn try_docker_host() -> Result<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => {
            let endpoint = run_script("docker.sh", &["endpoint"]).context(
                "DOCKER_HOST is not set and the local Docker engine is not up; \
                 start it with `e2e/docker.sh up`",
            )?;
            if endpoint.is_empty() {
                bail!("e2e/docker.sh endpoint printed nothing");
            }
            Ok(endpoint)
        }
    }
}

/// Like [`try_docker_host`], but panics with the reason, so a test that needs Docker fails.
pub fn docker_host() -> String {
    match try_docker_host() {
        Ok(h) => h,
        Err(e) => panic!("no Docker engine for the e2e tests: {e:#}"),
    }
}

/// Polls `probe` every `interval` until it returns `Ok(Some(value))` or `timeout` passes.
/// `Ok(None)` means "not yet"; an `Err` from the probe is remembered and retried. On timeout
/// the error names `what` and the last probe error.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let interval = Duration::from_millis(500);
    let deadline = Instant::now() + timeout;
    let mut last_err: Option<anyhow::Error> = None;
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(match last_err {
                Some(e) => e.context(format!("timed out after {timeout:?} waiting for {what}")),
                None => anyhow!("timed out after {timeout:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Polls until the object `name` is gone (a GET finds nothing), at most `timeout`; the error
/// names its kind and name.
pub async fn poll_until_gone<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let what = format!("{} {name} to be gone", K::kind(&()));
    poll_until(&what, timeout, || async move {
        Ok(api.get_opt(name).await?.is_none().then_some(()))
    })
    .await
}

/// A unique DNS-label name: `<prefix>-<time>-<pid>-<counter>`, at most 63 characters.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut clean: String = prefix
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    clean = clean.trim_matches('-').to_string();
    if clean.is_empty() {
        clean = "e2e".to_string();
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let suffix = format!(
        "{:x}{:x}{:x}",
        (nanos % 0xffff_ffff) as u32,
        std::process::id() % 0xffff,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    clean.truncate(62 - suffix.len());
    let clean = clean.trim_end_matches('-');
    format!("{clean}-{suffix}")
}

/// A loopback port nobody listens on right now (for a metrics address, a host port, ...).
/// Panics when the OS hands out none: a test cannot go on without one.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A free loopback port for a stack's host port, besides the stack's `others`: one whose node
/// port (Kubernetes' default range, where the spec maps every host port) differs from theirs.
/// Two random ports land on the same node port about once in a few thousand pairs, and the
/// spec refuses such a stack (`spec.services.*.hostPorts`), which a test did not mean to test.
pub fn free_host_port_besides(others: &[u16]) -> u16 {
    let range = devstack_core::plan::NodePortRange::default();
    (0..100)
        .map(|_| free_port())
        .find(|&port| lands_apart(range, port, others))
        .unwrap_or_else(|| panic!("no free loopback port apart from {others:?} in {range}"))
}

/// Whether `port` becomes a node port in `range` that none of `others` becomes.
fn lands_apart(range: devstack_core::plan::NodePortRange, port: u16, others: &[u16]) -> bool {
    others
        .iter()
        .all(|&o| range.node_port(o) != range.node_port(port))
}

/// `N` free loopback ports for one stack's host ports (see [`free_host_port_besides`]).
pub fn free_host_ports<const N: usize>() -> [u16; N] {
    let mut ports = [0; N];
    for i in 0..N {
        ports[i] = free_host_port_besides(&ports[..i]);
    }
    ports
}

/// Sets (`Some(count)`) or removes (`None`) the extended resource `resource` (for example
/// `nvidia.com/gpu`) in the capacity and allocatable of every kwok node: a test's way to make
/// the cluster offer something or not. The harness's kwok node offers `nvidia.com/gpu: 8`; a
/// test that removes it puts it back.
pub async fn set_kwok_capacity(client: &Client, resource: &str, count: Option<&str>) -> Result<()> {
    let nodes = Api::<Node>::all(client.clone());
    let value = count.map_or(serde_json::Value::Null, |c| {
        serde_json::Value::String(c.into())
    });
    let patch = serde_json::json!({"status": {"allocatable": {resource: value}, "capacity": {resource: value}}});
    for node in nodes
        .list(&ListParams::default().labels("type=kwok"))
        .await?
        .items
    {
        let name = node.metadata.name.unwrap_or_default();
        nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("setting {resource} of node {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{free_host_ports, lands_apart, unique_name};
    use devstack_core::plan::NodePortRange;

    #[test]
    fn host_ports_apart_are_apart_in_the_node_port_range() {
        let range = NodePortRange::default();
        assert!(!lands_apart(range, 39933, &[37165]), "39933 - 37165 = 2768");
        assert!(!lands_apart(range, 30344, &[40000, 5432]));
        assert!(lands_apart(range, 39934, &[37165, 40000]));
        assert!(lands_apart(range, 40000, &[]));
        let ports: [u16; 8] = free_host_ports();
        for (i, &port) in ports.iter().enumerate() {
            assert!(lands_apart(range, port, &ports[..i]), "{ports:?}");
        }
    }

    #[test]
    fn unique_names_are_dns_labels_and_distinct() {
        let a = unique_name("Smoke_Test");
        let b = unique_name("Smoke_Test");
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(n.len() <= 63, "{n}");
            assert!(n.starts_with("smoke-test-"), "{n}");
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= 63, "{long}");
        assert_eq!(unique_name("--").split('-').next(), Some("e2e"));
    }
}
