//! The `devstack-operator` binary as a child process against the test cluster, the way a user
//! runs it: the CRD applied with kubectl, the operator watching one namespace with the local
//! postgres/redis images (`--image-override`), the DevStack `kubectl apply`d and waited for
//! with `kubectl wait --for=condition=Ready`.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devstack_e2e::free_port;
use devstack_e2e::kubectl::Kubectl;

use super::local_image_overrides;

/// The operator binary, built by cargo on first use so that it is the current source's.
pub fn operator_binary() -> PathBuf {
    devstack_e2e::bin::operator()
}

/// `devstack crd | kubectl apply --server-side -f -`, then waits until it is Established.
pub fn install_crd(kubectl: &Kubectl) {
    let crd = Command::new(devstack_e2e::bin::devstack())
        .arg("crd")
        .output()
        .expect("run devstack crd");
    assert!(crd.status.success(), "devstack crd failed");
    kubectl
        .run_with_input(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "devstack-cli-tests",
                "-f",
                "-",
            ],
            Some(&String::from_utf8_lossy(&crd.stdout)),
        )
        .expect("kubectl apply the CRD");
    kubectl
        .wait_crd_established("devstacks.devstack.dev", std::time::Duration::from_secs(60))
        .expect("the CRD is Established");
}

/// A running operator watching one namespace; SIGTERM on drop.
pub struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    /// Starts the operator for `namespace` with the local postgres and redis images.
    pub fn start(namespace: &str, kubeconfig: &str) -> Operator {
        let log = std::env::temp_dir().join(format!(
            "devstack-operator-{}.log",
            devstack_e2e::unique_name(namespace)
        ));
        let file = std::fs::File::create(&log).expect("operator log file");
        let child = Command::new(operator_binary())
            .args(["--namespace", namespace])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .args(["--log-format", "text"])
            .args(local_image_overrides())
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::from(file.try_clone().expect("log file handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start devstack-operator");
        Operator { child, log }
    }

    /// The end of the operator's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log, 4000)
    }
}

fn tail(path: &Path, bytes: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(bytes);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[start..].to_string()
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
