//! Blocking `kubectl` v1.37.2 (the harness's own build) against the test cluster, for tests
//! that apply rendered YAML, `exec` into real pods and read what a process really sees.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{kubeconfig_source, run_script, unique_name, TEST_NAMESPACE_LABEL};

/// Node label `type` of the harness's kwok node (`e2e/cluster.sh`).
pub const KWOK_NODE_TYPE: &str = "kwok";
/// The taint that keeps workloads off the kwok node while the real node runs (`e2e/node.sh`).
pub const FAKE_NODE_TAINT: &str = "devstack.dev/fake-node";
/// The harness's real kubelet node.
pub const REAL_NODE: &str = "devstack-node-0";

/// Namespace annotations (admission plugins PodNodeSelector and PodTolerationRestriction) that
/// put every pod of the namespace on the kwok node, whatever created it (an operator too).
pub fn kwok_namespace_annotations() -> Vec<(String, String)> {
    vec![
        (
            "scheduler.alpha.kubernetes.io/node-selector".to_string(),
            format!("type={KWOK_NODE_TYPE}"),
        ),
        (
            "scheduler.alpha.kubernetes.io/defaultTolerations".to_string(),
            format!(r#"[{{"key":"{FAKE_NODE_TAINT}","operator":"Exists","effect":"NoSchedule"}}]"#),
        ),
    ]
}

/// `kubectl` with the test cluster's admin kubeconfig.
#[derive(Clone, Debug)]
pub struct Kubectl {
    bin: PathBuf,
    kubeconfig: String,
}

/// What a command run in a container printed, and whether it exited 0.
#[derive(Debug)]
pub struct ExecResult {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl ExecResult {
    /// stdout trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }
}

impl std::fmt::Display for ExecResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}; stdout: {:?}; stderr: {:?}",
            if self.ok { "0" } else { "non-zero" },
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

impl Kubectl {
    /// kubectl from `e2e/cluster.sh kubectl` (no arguments prints its path) and the kubeconfig
    /// from `KUBECONFIG` or `e2e/cluster.sh kubeconfig`. Fails when the cluster is not built.
    pub fn new() -> Result<Self> {
        let bin = PathBuf::from(run_script("cluster.sh", &["kubectl"])?);
        Ok(Self {
            bin,
            kubeconfig: kubeconfig_source()?,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("KUBECONFIG", &self.kubeconfig).args(args);
        c
    }

    /// Runs kubectl with `stdin` piped in (when given).
    pub fn output(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let mut cmd = self.command(args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting kubectl {}", args.join(" ")))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .context("writing kubectl's stdin")?;
        }
        child
            .wait_with_output()
            .with_context(|| format!("running kubectl {}", args.join(" ")))
    }

    /// Runs kubectl; its stdout, or an error with its stderr.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        self.run_with_input(args, None)
    }

    /// Waits until CRD `name` is Established. A CRD created a moment ago has no conditions
    /// yet, and `kubectl wait` then fails at once (`<nil> is of the type <nil>`) instead of
    /// waiting: asked again until the timeout.
    pub fn wait_crd_established(&self, name: &str, timeout: std::time::Duration) -> Result<()> {
        let start = std::time::Instant::now();
        let target = format!("crd/{name}");
        loop {
            let waited = self.run(&[
                "wait",
                "--for=condition=Established",
                &target,
                "--timeout=10s",
            ]);
            match waited {
                Ok(_) => return Ok(()),
                Err(e) if start.elapsed() >= timeout => return Err(e),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(250)),
            }
        }
    }

    /// Like [`Kubectl::run`], feeding `stdin`.
    pub fn run_with_input(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let out = self.output(args, stdin)?;
        if !out.status.success() {
            bail!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `sh -c script` in `pod` of `namespace` (first container).
    pub fn exec(&self, namespace: &str, pod: &str, script: &str) -> Result<ExecResult> {
        let out = self.output(
            &["exec", "-n", namespace, pod, "--", "sh", "-c", script],
            None,
        )?;
        Ok(ExecResult {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Polls `kubectl get -o jsonpath=...` until `accept` takes its output, or fails after
    /// `timeout` naming `what` and the last output.
    pub fn wait_jsonpath(
        &self,
        what: &str,
        args: &[&str],
        jsonpath: &str,
        timeout: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let jp = format!("jsonpath={jsonpath}");
        let mut all: Vec<&str> = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", &jp]);
        loop {
            let last = match self.run(&all) {
                Ok(out) if accept(out.trim()) => return Ok(out.trim().to_string()),
                Ok(out) => out,
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                return Err(anyhow!(
                    "timed out after {timeout:?} waiting for {what} (last: {})",
                    last.trim()
                ));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A namespace for one test, created with kubectl and deleted (without waiting) on drop.
pub struct KubectlNamespace {
    pub name: String,
    pub kubectl: Kubectl,
}

impl KubectlNamespace {
    /// `<prefix>-<unique suffix>`, labelled like [`crate::TestNamespace`]'s.
    pub fn new(prefix: &str) -> Result<Self> {
        let kubectl = Kubectl::new()?;
        let name = unique_name(prefix);
        let manifest = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {{{TEST_NAMESPACE_LABEL}: \"true\"}}\n"
        );
        kubectl.run_with_input(&["create", "-f", "-"], Some(&manifest))?;
        Ok(Self { name, kubectl })
    }
}

impl Drop for KubectlNamespace {
    fn drop(&mut self) {
        let _ = self
            .kubectl
            .run(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}
