//! The operator as the chart installs it, run for real against the local control plane:
//!
//! - RBAC sufficient: the `devstack-operator` binary, on the host with a token of the chart's
//!   ServiceAccount (namespaced mode, two replicas so the Lease rules are in play), reconciles
//!   every example to Ready and deletes it again without a single `forbidden`.
//!   (e2e/tests/chart_install.rs proves the same rules minimal.)
//! - The image: `devstack-local/operator:<version>` (operator/image.sh, the layout of
//!   operator/Dockerfile) runs on the Docker engine as uid 65532 with a read-only root and no
//!   capabilities, with the same token, and reconciles a stack to Ready.
//!
//! Needs the local control plane and the Docker engine: `e2e/cluster.sh up && e2e/docker.sh
//! up`, then `KUBECONFIG=$(e2e/cluster.sh kubeconfig) DOCKER_HOST=$(e2e/docker.sh endpoint)
//! cargo test -p devstack-e2e --test chart_operator`. Fails without them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use devstack_core::DevStack;
use devstack_e2e::free_port;
use devstack_e2e::helm::Release;
use devstack_e2e::{
    client, docker_host, service_account_token, token_kubeconfig, unique_name, workspace_root,
    TestNamespace,
};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;

const TIMEOUT: Duration = Duration::from_secs(180);

/// The examples' host ports are node ports, unique in the cluster: the tests of this file
/// create stacks one at a time.
static NODE_PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The chart installed in a fresh namespace watching a second one, and a kubeconfig with a
/// token of its ServiceAccount in a scratch directory.
struct Setup {
    release_ns: TestNamespace,
    stacks_ns: TestNamespace,
    release: Option<Release>,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Setup {
    async fn new(prefix: &str, set: &[&str]) -> Result<Self> {
        // Both on the kwok node: the chart's own pods and the examples' pods are Ready there
        // without their images (the operator under test runs outside, on the host or in
        // Docker).
        let release_ns = TestNamespace::on_kwok(prefix).await?;
        let stacks_ns = TestNamespace::on_kwok(&format!("{prefix}-stacks")).await?;
        let watch = format!("watchNamespaces={{{}}}", stacks_ns.name());
        let mut values = vec![watch.as_str()];
        values.extend_from_slice(set);
        let release = Release::install(release_ns.name(), release_ns.name(), &values)?;
        let token =
            service_account_token(client().await?, release_ns.name(), &release.fullname()).await?;
        let dir = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&dir)?;
        let kubeconfig = token_kubeconfig(&dir, &token)?;
        Ok(Self {
            release_ns,
            stacks_ns,
            release: Some(release),
            dir,
            kubeconfig,
        })
    }

    fn release(&self) -> &Release {
        self.release.as_ref().expect("installed")
    }

    /// Removes what is left: DevStacks whose finalizer no operator will run any more (after a
    /// failure), the release, the namespaces, the scratch directory.
    async fn cleanup(mut self) -> Result<()> {
        let stacks: Api<DevStack> = self.stacks_ns.api();
        for stack in stacks.list(&ListParams::default()).await? {
            let patch = serde_json::json!({"metadata": {"finalizers": null}});
            let name = stack.metadata.name.unwrap_or_default();
            stacks
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        drop(self.release.take());
        let _ = std::fs::remove_dir_all(&self.dir);
        self.stacks_ns.cleanup().await?;
        self.release_ns.cleanup().await
    }
}

fn is_ready(stack: &DevStack) -> bool {
    stack
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Polls `probe` until it answers true; fails at once when `logs()` shows a `forbidden` (a
/// missing rule), or after [`TIMEOUT`].
async fn wait_for<F, Fut>(what: &str, logs: &dyn Fn() -> String, mut probe: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = logs();
        if let Some(line) = text
            .lines()
            .find(|l| l.to_lowercase().contains("forbidden"))
        {
            bail!("waiting for {what}, the operator was refused:\n{line}");
        }
        if probe().await? {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {TIMEOUT:?} waiting for {what}; operator log:\n{}",
                tail(&text)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Creates `example` in `ns`, waits until it is Ready, deletes it and waits until it is gone.
async fn round_trip(
    ns: &TestNamespace,
    example: &str,
    mut stack: DevStack,
    logs: &dyn Fn() -> String,
) -> Result<()> {
    let stacks: Api<DevStack> = ns.api();
    stack.metadata.namespace = None;
    let name = stack
        .metadata
        .name
        .clone()
        .context("example without a name")?;
    stacks
        .create(&PostParams::default(), &stack)
        .await
        .with_context(|| format!("creating {example}"))?;
    wait_for(&format!("{example} to be Ready"), logs, || {
        let (stacks, name) = (stacks.clone(), name.clone());
        async move { Ok(is_ready(&stacks.get(&name).await?)) }
    })
    .await?;
    stacks.delete(&name, &DeleteParams::default()).await?;
    wait_for(&format!("{example} to be deleted"), logs, || {
        let (stacks, name) = (stacks.clone(), name.clone());
        async move { Ok(stacks.get_opt(&name).await?.is_none()) }
    })
    .await
}

/// The arguments of the operator container in the chart's Deployment.
async fn chart_operator_args(setup: &Setup) -> Result<Vec<String>> {
    let deployments: Api<Deployment> = setup.release_ns.api();
    let deployment = deployments.get(&setup.release().fullname()).await?;
    let container = deployment
        .spec
        .template
        .spec
        .and_then(|s| s.containers.into_iter().next())
        .context("the chart's Deployment has no container")?;
    Ok(container.args.unwrap_or_default())
}

/// The operator process on the host, killed when dropped.
struct HostOperator(Child);

impl Drop for HostOperator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn operator_with_the_chart_service_account_reconciles_every_example() -> Result<()> {
    // The examples' host mounts (semantik's documents) need an allow-list, as on a real
    // cluster: the chart's `allowedHostPaths`, passed on to the operator as the chart does.
    let allowed = devstack_e2e::examples::host_path_prefix()?;
    let allowed = allowed.to_str().context("examples path is not UTF-8")?;
    let value = format!("allowedHostPaths={{{allowed}}}");
    let setup = Setup::new("chart-rbac", &["replicas=2", &value]).await?;
    let result = async {
        let allow_arg = format!("--allow-host-path={allowed}");
        let chart_args = chart_operator_args(&setup).await?;
        assert!(
            chart_args.contains(&allow_arg),
            "the chart's Deployment should pass {allow_arg}: {chart_args:?}"
        );
        let log = setup.dir.join("operator.log");
        let lease = setup.release().fullname();
        let child = Command::new(devstack_e2e::bin::operator())
            .args(["--namespace", setup.stacks_ns.name()])
            .arg(&allow_arg)
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--leader-elect", "--lease-name", &lease])
            .env("KUBECONFIG", &setup.kubeconfig)
            .env("POD_NAMESPACE", setup.release_ns.name())
            .env("POD_NAME", "chart-rbac-test")
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(
                std::fs::File::options().append(true).open(&log)?,
            ))
            .spawn()
            .context("starting devstack-operator")?;
        let _operator = HostOperator(child);
        let logs = || std::fs::read_to_string(&log).unwrap_or_default();
        // One example after another: several publish the same host port.
        let _ports = NODE_PORTS.lock().await;
        for (example, stack) in devstack_e2e::examples::applied_all()? {
            round_trip(&setup.stacks_ns, &example, stack, &logs).await?;
        }
        let text = logs();
        assert!(text.contains("holding the leader Lease"), "{}", tail(&text));
        Ok::<_, anyhow::Error>(())
    }
    .await;
    setup.cleanup().await?;
    result
}

/// A container on the Docker engine, removed when dropped.
struct Container {
    name: String,
}

impl Container {
    fn logs(&self) -> String {
        Command::new("docker")
            .args(["logs", &self.name])
            .env("DOCKER_HOST", docker_host())
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .env("DOCKER_HOST", docker_host())
            .output();
    }
}

/// Lets the image's user (65532) read the scratch directory, and nobody else.
fn hand_to_image_user(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        std::os::unix::fs::chown(entry?.path(), Some(65532), Some(65532))?;
    }
    std::os::unix::fs::chown(dir, Some(65532), Some(65532))?;
    Ok(())
}

#[tokio::test]
async fn operator_image_reconciles_a_stack_from_the_docker_engine() -> Result<()> {
    let root = workspace_root();
    let built = Command::new("bash")
        .arg(root.join("operator/image.sh"))
        .arg("build")
        .env("DOCKER_HOST", docker_host())
        .output()?;
    assert!(
        built.status.success(),
        "operator/image.sh build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let image = String::from_utf8(built.stdout)?.trim().to_string();
    assert_eq!(
        image,
        format!("devstack-local/operator:{}", env!("CARGO_PKG_VERSION"))
    );

    let setup = Setup::new("chart-image", &[]).await?;
    let result = async {
        hand_to_image_user(&setup.dir)?;
        let dir = setup.dir.to_str().context("scratch path is not UTF-8")?;
        let container = Container {
            name: unique_name("chart-image-operator"),
        };
        let port = free_port();
        // As the chart runs it: non-root (the image's user), read-only root, no capabilities.
        // Host networking: the API server listens on 127.0.0.1.
        let run = Command::new("docker")
            .args(["run", "-d", "--name", &container.name, "--network", "host"])
            .args([
                "--read-only",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges",
            ])
            .args(["-v", &format!("{dir}:{dir}:ro")])
            .args(["-e", &format!("KUBECONFIG={}", setup.kubeconfig.display())])
            .arg(&image)
            .args(["--namespace", setup.stacks_ns.name()])
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .env("DOCKER_HOST", docker_host())
            .output()?;
        assert!(
            run.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let user = Command::new("docker")
            .args(["inspect", "--format", "{{.Config.User}}", &container.name])
            .env("DOCKER_HOST", docker_host())
            .output()?;
        assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "65532:65532");

        let minimal = devstack_e2e::examples::dir()?.join("minimal.yaml");
        let stack = devstack_e2e::examples::applied(&minimal)?;
        let logs = || container.logs();
        let _ports = NODE_PORTS.lock().await;
        round_trip(&setup.stacks_ns, "minimal", stack, &logs).await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    setup.cleanup().await?;
    result
}
