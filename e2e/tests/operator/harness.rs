//! Starting the operator, installing the CRD, creating stacks and waiting with kubectl.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use devstack_core::parse::parse_devstack;
use devstack_core::DevStack;
use devstack_e2e::free_port;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, CustomResourceExt};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static CLUSTER: RwLock<()> = RwLock::const_new(());

/// For a test that shares the cluster with the others of this binary: it works in its own
/// namespaces, with its own operator, and publishes no host port.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    CLUSTER.read().await
}

/// For a test that needs the cluster to itself: it counts the API server's requests (any other
/// test's would be counted too) or publishes host ports (node ports are cluster-wide). It waits
/// for the shared tests running, and the tests after it wait for it.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    CLUSTER.write().await
}

/// Installs (server-side applies) the DevStack CRD and waits until it is Established.
pub async fn install_crd(client: &Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = DevStack::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply("devstack-test").force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("applying the DevStack CRD")?;
    poll_until("CRD Established", Duration::from_secs(60), || {
        let crds = crds.clone();
        let name = name.clone();
        async move {
            let crd = crds.get(&name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        }
    })
    .await
}

/// A running `devstack-operator` child process.
pub struct Operator {
    child: Option<Child>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    metrics_port: u16,
    log: PathBuf,
}

impl Operator {
    /// Starts the operator watching `namespaces`, with `extra` arguments.
    pub fn start(namespaces: &[&str], extra: &[&str]) -> Result<Self> {
        Self::start_with_env(namespaces, extra, &[])
    }

    /// Like [`Operator::start`], with extra environment variables.
    pub fn start_with_env(
        namespaces: &[&str],
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<Self> {
        let mut args = Vec::new();
        for ns in namespaces {
            args.push("--namespace".to_string());
            args.push((*ns).to_string());
        }
        args.extend(extra.iter().map(|s| (*s).to_string()));
        let log = std::env::temp_dir().join(format!(
            "devstack-operator-test-{}.log",
            devstack_e2e::unique_name("op")
        ));
        let mut operator = Operator {
            child: None,
            args,
            envs: envs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            metrics_port: free_port(),
            log,
        };
        operator.spawn()?;
        Ok(operator)
    }

    fn spawn(&mut self) -> Result<()> {
        let kubeconfig = devstack_e2e::kubeconfig_source()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .context("operator log file")?;
        let child = Command::new(devstack_e2e::bin::operator())
            .args(&self.args)
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", self.metrics_port),
            ])
            .args(["--log-format", "json"])
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting devstack-operator")?;
        self.child = Some(child);
        Ok(())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the process to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same arguments (after [`Operator::stop`] or
    /// [`Operator::kill`]).
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn()
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> Result<String> {
        http_get(self.metrics_port, "/metrics").await
    }

    /// A counter from `/metrics` (sum over its label sets), 0 when absent.
    pub async fn counter(&self, name: &str) -> Result<f64> {
        let text = self.metrics().await?;
        Ok(sum_metric(&text, name, |_| true))
    }

    /// The operator's log so far (for failure messages).
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(6000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text[start..].to_string()
    }

    /// The HTTP status of `path` on the metrics port.
    pub async fn http_status(&self, path: &str) -> Result<u16> {
        let response = http_request(self.metrics_port, path).await?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("no HTTP status in {response:?}"))?;
        Ok(status)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn http_request(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

async fn http_get(port: u16, path: &str) -> Result<String> {
    let response = http_request(port, path).await?;
    let (_, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("malformed HTTP response"))?;
    Ok(body.to_string())
}

/// Sums the samples of metric `name` whose label text passes `filter`.
pub fn sum_metric(text: &str, name: &str, filter: impl Fn(&str) -> bool) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let (metric, labels) = match key.split_once('{') {
                Some((m, l)) => (m, l),
                None => (key, ""),
            };
            (metric == name && filter(labels)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// A DevStack named `name` in `namespace` with `services` (YAML, indented by four).
pub fn stack(name: &str, namespace: &str, body: &str) -> DevStack {
    let mut stack = parse_devstack(&format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n{body}"
    ))
    .expect("test stack parses");
    stack.metadata.namespace = Some(namespace.to_string());
    stack
}

/// Creates `stack`.
pub async fn create(client: &Client, stack: &DevStack) -> Result<DevStack> {
    let ns = stack.metadata.namespace.clone().unwrap_or_default();
    Api::<DevStack>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), stack)
        .await
        .context("creating the DevStack")
}

/// The path of the real kubectl (`e2e/cluster.sh kubectl`), else `kubectl` on PATH.
pub fn kubectl_path() -> String {
    let root = devstack_e2e::workspace_root();
    Command::new("bash")
        .arg(root.join("e2e/cluster.sh"))
        .arg("kubectl")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "kubectl".to_string())
}

/// Runs kubectl with the test cluster's kubeconfig; returns stdout or an error with stderr.
pub async fn kubectl(args: &[&str]) -> Result<String> {
    let kubeconfig = devstack_e2e::kubeconfig_source()?;
    let out = tokio::process::Command::new(kubectl_path())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .await
        .context("running kubectl")?;
    if !out.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `kubectl wait --for=condition=<condition> devstack/<name>`.
pub async fn wait_for(ns: &str, name: &str, condition: &str, timeout_s: u32) -> Result<()> {
    kubectl(&[
        "wait",
        "-n",
        ns,
        &format!("--for=condition={condition}"),
        &format!("devstack/{name}"),
        &format!("--timeout={timeout_s}s"),
    ])
    .await
    .map(|_| ())
}

/// The credentials Secret's uid and values.
pub async fn credentials(
    client: &Client,
    ns: &str,
    stack: &str,
) -> Result<(String, BTreeMap<String, Vec<u8>>)> {
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get(&format!("{stack}-credentials"))
        .await?;
    let data = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Ok((secret.metadata.uid.unwrap_or_default(), data))
}

/// Deletes every DevStack of `ns` while the operator still runs (its finalizer), waits until
/// they are gone, then deletes its Services (waiting) and the namespace (not waiting).
pub async fn finish(ns: TestNamespace, operator: &mut Operator) -> Result<()> {
    let api = ns.api::<DevStack>();
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    poll_until("DevStacks deleted", Duration::from_secs(60), || {
        let api = api.clone();
        async move {
            Ok(api
                .list(&ListParams::default())
                .await?
                .items
                .is_empty()
                .then_some(()))
        }
    })
    .await
    .with_context(|| operator.log())?;
    operator.stop();
    // Services hold cluster-wide node ports, and the next test may publish the same ones: they
    // go first. The rest of the namespace terminates in the background (≈ 10 s of the
    // namespace controller per namespace; the write-counting test waits for it).
    let services = ns.api::<Service>();
    services
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    poll_until("Services deleted", Duration::from_secs(60), || {
        let services = services.clone();
        async move {
            Ok(services
                .list_metadata(&ListParams::default())
                .await?
                .items
                .is_empty()
                .then_some(()))
        }
    })
    .await?;
    ns.cleanup().await
}

/// Waits until no test namespace is terminating (their deletions are requests too, and the
/// namespace controller lists every kind in them): a failed test leaves its stacks behind with
/// no operator to run their finalizer, so they are released.
pub async fn no_terminating_test_namespace(client: &Client) -> Result<()> {
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
    poll_until(
        "no terminating test namespace",
        Duration::from_secs(180),
        || {
            let namespaces = namespaces.clone();
            let client = client.clone();
            async move {
                let list = namespaces
                    .list(&ListParams::default().labels(devstack_e2e::TEST_NAMESPACE_LABEL))
                    .await?;
                let terminating: Vec<String> = list
                    .items
                    .into_iter()
                    .filter(|n| n.metadata.deletion_timestamp.is_some())
                    .filter_map(|n| n.metadata.name)
                    .collect();
                // A failed test leaves its stacks behind with no operator to run their
                // finalizer: release them.
                for ns in &terminating {
                    let stacks = Api::<DevStack>::namespaced(client.clone(), ns);
                    for stack in stacks.list_metadata(&ListParams::default()).await?.items {
                        let name = stack.metadata.name.unwrap_or_default();
                        let release = serde_json::json!({"metadata": {"finalizers": null}});
                        stacks
                            .patch(&name, &PatchParams::default(), &Patch::Merge(&release))
                            .await?;
                    }
                }
                Ok(terminating.is_empty().then_some(()))
            }
        },
    )
    .await
}
