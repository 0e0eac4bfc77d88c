//! The real node side: the CRD applied, the `devstack-operator` binary watching a fresh
//! namespace with the local images (`--image-override`), the DevStack `kubectl apply`d and
//! waited for (`condition=Ready`); checks by `kubectl exec`; the DevStack deleted (while the
//! operator runs: its finalizer) and the namespace removed afterwards.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use devstack_e2e::kubectl::{ExecResult, Kubectl, KubectlNamespace};

use crate::kinds::Kind;
use crate::{services_yaml, Runtime};

const STACK: &str = "conformance";
const TIMEOUT: &str = "--timeout=180s";

pub struct NodeStack {
    operator: Operator,
    ns: KubectlNamespace,
}

fn err(e: anyhow::Error) -> String {
    format!("{e:#}")
}

impl NodeStack {
    pub fn up(kind: &Kind, image: &str) -> Result<NodeStack, String> {
        let ns = KubectlNamespace::new(&format!("conf-{}", kind.type_name)).map_err(err)?;
        install_crd(&ns.kubectl)?;
        let stack = NodeStack {
            operator: Operator::start(&ns.name)?,
            ns,
        };
        let doc = format!(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {STACK}, namespace: {}}}\nspec:\n  services:\n{}",
            stack.ns.name,
            services_yaml(kind, image, None)
        );
        stack
            .kubectl()
            .run_with_input(&["apply", "-n", &stack.ns.name, "-f", "-"], Some(&doc))
            .map_err(err)?;
        let ready = stack.kubectl().run(&[
            "wait",
            "-n",
            &stack.ns.name,
            "--for=condition=Ready",
            &format!("devstack/{STACK}"),
            TIMEOUT,
        ]);
        if let Err(e) = ready {
            return Err(format!(
                "DevStack not Ready: {e:#}\n{}\noperator log:\n{}",
                stack.describe(),
                stack.operator.log_tail()
            ));
        }
        stack.roll_out()?;
        Ok(stack)
    }

    fn kubectl(&self) -> &Kubectl {
        &self.ns.kubectl
    }

    fn roll_out(&self) -> Result<(), String> {
        for kind in ["statefulset", "deployment"] {
            let names = self
                .kubectl()
                .run(&["get", kind, "-n", &self.ns.name, "-o", "name"])
                .map_err(err)?;
            for object in names.split_whitespace() {
                self.kubectl()
                    .run(&["rollout", "status", "-n", &self.ns.name, object, TIMEOUT])
                    .map_err(|e| format!("{object}: {e:#}\n{}", self.describe()))?;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let get = |args: &[&str]| {
            self.kubectl()
                .run(args)
                .unwrap_or_else(|e| format!("{e:#}"))
        };
        format!(
            "{}\n{}",
            get(&["get", "pods", "-n", &self.ns.name, "-o", "wide"]),
            get(&[
                "get",
                "events",
                "-n",
                &self.ns.name,
                "--sort-by",
                ".lastTimestamp"
            ])
        )
    }

    /// The running pod of `service` and its uid.
    fn pod(&self, service: &str) -> Result<(String, String), String> {
        let out = self
            .kubectl()
            .run(&[
                "get",
                "pods",
                "-n",
                &self.ns.name,
                "-l",
                &format!("devstack.dev/service={service}"),
                "--field-selector",
                "status.phase=Running",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid}{\"\\n\"}{end}",
            ])
            .map_err(err)?;
        let mut lines = out.lines().filter(|l| !l.trim().is_empty());
        match (lines.next(), lines.next()) {
            (Some(line), None) => {
                let (name, uid) = line.split_once(' ').unwrap_or((line, ""));
                Ok((name.to_string(), uid.to_string()))
            }
            _ => Err(format!("want one running pod of {service}: {out:?}")),
        }
    }
}

impl Runtime for NodeStack {
    fn name(&self) -> &'static str {
        "node"
    }

    fn exec(&self, service: &str, script: &str) -> ExecResult {
        let result = self.pod(service).and_then(|(pod, _)| {
            self.kubectl()
                .exec(&self.ns.name, &pod, script)
                .map_err(err)
        });
        result.unwrap_or_else(|e| ExecResult {
            ok: false,
            stdout: String::new(),
            stderr: e,
        })
    }

    fn healthy(&self, service: &str) -> Result<(), String> {
        let (pod, _) = self.pod(service)?;
        let ready = self
            .kubectl()
            .run(&[
                "get",
                "pod",
                "-n",
                &self.ns.name,
                &pod,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .map_err(err)?;
        if ready.trim() == "True" {
            Ok(())
        } else {
            Err(format!("pod {pod} Ready={ready:?}\n{}", self.describe()))
        }
    }

    fn restart(&self, service: &str) -> Result<(), String> {
        let (pod, uid) = self.pod(service)?;
        self.kubectl()
            .run(&["delete", "pod", "-n", &self.ns.name, &pod, TIMEOUT])
            .map_err(err)?;
        let selector = format!("devstack.dev/service={service}");
        self.kubectl()
            .wait_jsonpath(
                "the re-created pod to be Ready",
                &["pods", "-n", &self.ns.name, "-l", &selector],
                "{range .items[*]}{.metadata.uid}={.status.conditions[?(@.type==\"Ready\")].status} {end}",
                Duration::from_secs(180),
                |out| {
                    let pods: Vec<&str> = out.split_whitespace().collect();
                    pods.len() == 1 && !pods[0].starts_with(&uid) && pods[0].ends_with("=True")
                },
            )
            .map(|_| ())
            .map_err(|e| format!("{e:#}\n{}", self.describe()))
    }

    fn handed_value(&self, key: &str) -> Result<String, String> {
        let b64 = self
            .kubectl()
            .run(&[
                "get",
                "secret",
                "-n",
                &self.ns.name,
                &format!("{STACK}-connections"),
                "-o",
                &format!("jsonpath={{.data.{key}}}"),
            ])
            .map_err(err)?;
        decode_base64(b64.trim())
    }

    fn logs(&self, service: &str) -> Result<String, String> {
        let (pod, _) = self.pod(service)?;
        self.kubectl()
            .run(&["logs", "-n", &self.ns.name, &pod])
            .map_err(err)
    }
}

/// Standard base64 (what the API server returns for Secret data).
fn decode_base64(s: &str) -> Result<String, String> {
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin.write_all(s.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("base64 -d failed".into());
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

impl Drop for NodeStack {
    /// The DevStack goes while the operator still runs (its finalizer); the operator stops on
    /// its own drop, the namespace on its.
    fn drop(&mut self) {
        let _ = self.kubectl().run(&[
            "delete",
            "devstack",
            "-n",
            &self.ns.name,
            STACK,
            "--ignore-not-found",
            "--timeout=60s",
        ]);
    }
}

/// `devstack crd | kubectl apply --server-side -f -`, then Established.
fn install_crd(kubectl: &Kubectl) -> Result<(), String> {
    let bin = devstack_e2e::bin::devstack();
    let crd = Command::new(bin)
        .arg("crd")
        .output()
        .map_err(|e| e.to_string())?;
    if !crd.status.success() {
        return Err("devstack crd failed".into());
    }
    kubectl
        .run_with_input(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "devstack-conformance",
                "-f",
                "-",
            ],
            Some(&String::from_utf8_lossy(&crd.stdout)),
        )
        .map_err(err)?;
    kubectl
        .wait_crd_established("devstacks.devstack.dev", std::time::Duration::from_secs(60))
        .map_err(err)
}

/// The operator binary watching one namespace; SIGTERM on drop.
struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    fn start(namespace: &str) -> Result<Operator, String> {
        let bin = devstack_e2e::bin::operator();
        let kubeconfig = devstack_e2e::kubeconfig_source().map_err(err)?;
        let log = std::env::temp_dir().join(format!("devstack-operator-{namespace}.log"));
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["--namespace", namespace])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", devstack_e2e::free_port()),
            ])
            .args(["--log-format", "text"])
            .args(devstack_e2e::local_image_overrides().map_err(err)?)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(file))
            .spawn()
            .map_err(|e| format!("start devstack-operator: {e}"))?;
        Ok(Operator { child, log })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
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
