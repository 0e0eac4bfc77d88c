//! Shared by the tests that run stacks on the harness's real node (k8s_node.rs,
//! live_parity.rs): a stack in a throwaway namespace — rendered with `devstack render k8s
//! --include-secrets` and applied with kubectl, or reconciled by the `devstack-operator`
//! binary — rolled out; exec helpers.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use devstack_e2e::kubectl::{ExecResult, Kubectl, KubectlNamespace};

pub mod operator;

const ROLLOUT_TIMEOUT: &str = "180s";
/// NetworkPolicy changes reach kube-router's firewall within about a second of a pod starting.
const POLICY_SETTLE: Duration = Duration::from_secs(30);

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The locally built image of a catalog type (`DEVSTACK_LOCAL_IMAGES` or
/// `e2e/docker.sh images`).
pub fn local_image(type_name: &str) -> String {
    devstack_e2e::local_image(type_name).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `--image-override TYPE=IMAGE` for every locally built image.
pub fn local_image_overrides() -> Vec<String> {
    devstack_e2e::local_image_overrides().unwrap_or_else(|e| panic!("{e:#}"))
}

/// A stack on the real node, in its own namespace, rolled out.
pub struct Stack {
    /// The operator that reconciles it, if it went through one; declared before `ns` so it
    /// stops (after the DevStack is deleted, see `Drop`) before the namespace goes.
    operator: Option<operator::Operator>,
    pub ns: KubectlNamespace,
    pub name: String,
}

/// A DevStack document named `name` in `namespace`.
pub fn devstack_yaml(name: &str, namespace: &str, isolation: &str, services: &str) -> String {
    format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  isolation: {isolation}\n  services:\n{services}"
    )
}

impl Stack {
    /// Rendered with `devstack render k8s --include-secrets` and applied with kubectl.
    pub fn up(prefix: &str, services: &str, isolation: &str) -> Stack {
        let ns = KubectlNamespace::new(prefix).expect("create the test namespace");
        let name = "nodecheck".to_string();
        let stack = devstack_yaml(&name, &ns.name, isolation, services);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("stack.yaml");
        std::fs::write(&file, stack).expect("write stack");
        let render = Command::new(devstack_e2e::bin::devstack())
            .args(["render", "k8s"])
            .arg(&file)
            .arg("--include-secrets")
            .args(local_image_overrides())
            .output()
            .expect("run devstack render k8s");
        assert!(
            render.status.success(),
            "render: {}",
            String::from_utf8_lossy(&render.stderr)
        );
        let yaml = String::from_utf8(render.stdout).expect("utf-8 rendering");
        ns.kubectl
            .run_with_input(
                &["apply", "-n", &ns.name, "--server-side", "-f", "-"],
                Some(&yaml),
            )
            .expect("kubectl apply the rendering");
        let stack = Stack {
            operator: None,
            ns,
            name,
        };
        stack.roll_out();
        stack
    }

    /// Reconciled by the `devstack-operator` binary: the CRD installed, the operator started
    /// for a fresh namespace, `spec(namespace)` (a DevStack document named `name`) `kubectl
    /// apply`d and waited for with `kubectl wait --for=condition=Ready`.
    pub fn through_operator(prefix: &str, name: &str, spec: impl Fn(&str) -> String) -> Stack {
        let stack = Stack::through_operator_until(prefix, name, spec, "Ready");
        stack.roll_out();
        stack
    }

    /// Like [`Stack::through_operator`] for a DevStack the operator must refuse: waits for
    /// `Stalled` (nothing to roll out).
    pub fn through_operator_stalled(
        prefix: &str,
        name: &str,
        spec: impl Fn(&str) -> String,
    ) -> Stack {
        Stack::through_operator_until(prefix, name, spec, "Stalled")
    }

    fn through_operator_until(
        prefix: &str,
        name: &str,
        spec: impl Fn(&str) -> String,
        condition: &str,
    ) -> Stack {
        let ns = KubectlNamespace::new(prefix).expect("create the test namespace");
        operator::install_crd(&ns.kubectl);
        let kubeconfig = devstack_e2e::kubeconfig_source().expect("kubeconfig");
        let stack = Stack {
            operator: Some(operator::Operator::start(&ns.name, &kubeconfig)),
            name: name.to_string(),
            ns,
        };
        stack
            .kubectl()
            .run_with_input(
                &["apply", "-n", stack.ns(), "-f", "-"],
                Some(&spec(stack.ns())),
            )
            .expect("kubectl apply the DevStack");
        let ready = stack.kubectl().run(&[
            "wait",
            "-n",
            stack.ns(),
            &format!("--for=condition={condition}"),
            &format!("devstack/{name}"),
            &format!("--timeout={ROLLOUT_TIMEOUT}"),
        ]);
        if let Err(e) = ready {
            panic!(
                "DevStack {name} did not become {condition} on the real node: {e:#}\n{}\n{}",
                stack.describe(),
                stack.operator_log()
            );
        }
        stack
    }

    /// The end of the operator's log (empty without one).
    pub fn operator_log(&self) -> String {
        self.operator
            .as_ref()
            .map(|o| format!("operator log:\n{}", o.log_tail()))
            .unwrap_or_default()
    }

    /// Waits until every StatefulSet and Deployment of the namespace has rolled out.
    fn roll_out(&self) {
        let stack = self;
        for kind in ["statefulset", "deployment"] {
            let names = stack
                .kubectl()
                .run(&["get", kind, "-n", stack.ns(), "-o", "name"]);
            for object in names.expect("list workloads").split_whitespace() {
                let rolled = stack.kubectl().run(&[
                    "rollout",
                    "status",
                    "-n",
                    stack.ns(),
                    object,
                    "--timeout",
                    ROLLOUT_TIMEOUT,
                ]);
                if let Err(e) = rolled {
                    panic!(
                        "{object} did not roll out on the real node: {e:#}\n{}",
                        stack.describe()
                    );
                }
            }
        }
    }

    pub fn kubectl(&self) -> &Kubectl {
        &self.ns.kubectl
    }

    pub fn ns(&self) -> &str {
        &self.ns.name
    }

    /// Pods and recent events, for failure messages.
    pub fn describe(&self) -> String {
        let pods = self
            .kubectl()
            .run(&["get", "pods", "-n", self.ns(), "-o", "wide"])
            .unwrap_or_else(|e| format!("{e:#}"));
        let events = self
            .kubectl()
            .run(&[
                "get",
                "events",
                "-n",
                self.ns(),
                "--sort-by",
                ".lastTimestamp",
            ])
            .unwrap_or_else(|e| format!("{e:#}"));
        format!("{pods}\n{events}")
    }

    /// The (first) pod of `service`.
    pub fn pod(&self, service: &str) -> String {
        let out = self
            .kubectl()
            .run(&[
                "get",
                "pods",
                "-n",
                self.ns(),
                "-l",
                &format!("devstack.dev/service={service}"),
                "--field-selector",
                "status.phase=Running",
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ])
            .expect("find pod");
        assert!(
            !out.trim().is_empty(),
            "no running pod of {service}\n{}",
            self.describe()
        );
        out.trim().to_string()
    }

    pub fn pod_field(&self, pod: &str, jsonpath: &str) -> String {
        self.kubectl()
            .run(&[
                "get",
                "pod",
                "-n",
                self.ns(),
                pod,
                "-o",
                &format!("jsonpath={jsonpath}"),
            ])
            .expect("read pod")
            .trim()
            .to_string()
    }

    pub fn exec(&self, service: &str, script: &str) -> ExecResult {
        self.kubectl()
            .exec(self.ns(), &self.pod(service), script)
            .expect("kubectl exec")
    }

    /// Runs `script` in `service` until it succeeds (policies and restarts settle), or panics.
    pub fn exec_until_ok(&self, service: &str, script: &str, what: &str) -> ExecResult {
        let deadline = Instant::now() + POLICY_SETTLE;
        loop {
            let r = self.exec(service, script);
            if r.ok {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {r}\n{}",
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A key of the `<stack>-connections` Secret, decoded.
    pub fn connection_value(&self, key: &str) -> String {
        let b64 = self
            .kubectl()
            .run(&[
                "get",
                "secret",
                "-n",
                self.ns(),
                &format!("{}-connections", self.name),
                "-o",
                &format!("jsonpath={{.data.{key}}}"),
            ])
            .expect("read the connections secret");
        let out = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .expect("stdin")
                    .write_all(b64.trim().as_bytes())?;
                c.wait_with_output()
            })
            .expect("base64 -d");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Stack {
    /// With an operator: the DevStack is deleted while the operator still runs (its
    /// finalizer), then the operator stops, then the namespace goes.
    fn drop(&mut self) {
        if self.operator.is_some() {
            let _ = self.kubectl().run(&[
                "delete",
                "devstack",
                "-n",
                self.ns(),
                &self.name,
                "--ignore-not-found",
                "--timeout=60s",
            ]);
        }
    }
}

/// A TCP connection from `service` to HOST:PORT (bash's /dev/tcp; no client protocol involved).
pub fn tcp(host: &str, port: u16) -> String {
    format!("timeout 4 bash -c '</dev/tcp/{host}/{port}' && echo connected")
}
