//! Helm (built by `e2e/cluster.sh helm` from the Go module proxy) and the operator's chart.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

use crate::{kubeconfig_source, workspace_root};

/// The operator's chart directory, `charts/devstack-operator`.
pub fn chart_dir() -> PathBuf {
    workspace_root().join("charts").join("devstack-operator")
}

/// Runs `e2e/cluster.sh helm ARGS` (building Helm on first use) and returns its output,
/// whatever the exit status. With `cluster`, Helm talks to the test cluster's API server.
pub fn helm_output(args: &[&str], cluster: bool) -> Result<Output> {
    let root = workspace_root();
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("e2e").join("cluster.sh"))
        .arg("helm")
        .args(args)
        .current_dir(&root);
    if cluster {
        cmd.env("KUBECONFIG", kubeconfig_source()?);
    }
    cmd.output()
        .with_context(|| format!("running e2e/cluster.sh helm {}", args.join(" ")))
}

/// Runs Helm like [`helm_output`] and returns its stdout; a non-zero exit is an error that
/// carries Helm's stderr.
pub fn helm(args: &[&str], cluster: bool) -> Result<String> {
    let out = helm_output(args, cluster)?;
    if !out.status.success() {
        bail!(
            "helm {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout)
        .with_context(|| format!("helm {} printed non-UTF-8", args.join(" ")))
}

/// The chart's name, the suffix of every object's name (`<release>-devstack-operator`).
pub const CHART: &str = "devstack-operator";

/// A release of the operator's chart on the test cluster, uninstalled when dropped (its
/// ClusterRole and ClusterRoleBinding are cluster-scoped, so deleting the namespace alone would
/// leave them behind).
pub struct Release {
    name: String,
    namespace: String,
    notes: String,
}

impl Release {
    /// `helm install NAME charts/devstack-operator -n NAMESPACE --wait --set S...`: returns once
    /// the Deployment has rolled out.
    pub fn install(name: &str, namespace: &str, set: &[&str]) -> Result<Self> {
        let chart = chart_dir();
        let chart = chart.to_str().context("the chart path is not UTF-8")?;
        let mut args = vec![
            "install",
            name,
            chart,
            "--namespace",
            namespace,
            "--wait",
            "--timeout",
            "120s",
        ];
        for s in set {
            args.extend_from_slice(&["--set", s]);
        }
        let mut release = Self {
            name: name.to_string(),
            namespace: namespace.to_string(),
            notes: String::new(),
        };
        release.notes = helm(&args, true)?;
        Ok(release)
    }

    /// What `helm install` printed (NOTES.txt).
    pub fn notes(&self) -> &str {
        &self.notes
    }

    /// The name of the Deployment, ServiceAccount and RBAC objects.
    pub fn fullname(&self) -> String {
        let full = if self.name.contains(CHART) {
            self.name.clone()
        } else {
            format!("{}-{CHART}", self.name)
        };
        full[..full.len().min(63)].trim_end_matches('-').to_string()
    }

    /// The ServiceAccount as an RBAC user name.
    pub fn service_account_user(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace,
            self.fullname()
        )
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(
            &[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
            ],
            true,
        );
    }
}
