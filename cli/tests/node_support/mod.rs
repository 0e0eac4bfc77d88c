//! Shared by the tests that run rendered stacks on the harness's real node (k8s_node.rs,
//! live_parity.rs): a stack rendered with `devstack render k8s --include-secrets`, applied with
//! kubectl into a throwaway namespace and rolled out; exec helpers.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use devstack_e2e::kubectl::{ExecResult, Kubectl, KubectlNamespace};

const ROLLOUT_TIMEOUT: &str = "180s";
/// NetworkPolicy changes reach kube-router's firewall within about a second of a pod starting.
const POLICY_SETTLE: Duration = Duration::from_secs(30);

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `type=image` lines of the locally built images (`DEVSTACK_LOCAL_IMAGES` or
/// `e2e/docker.sh images`).
pub fn local_image(type_name: &str) -> String {
    let lines = match std::env::var("DEVSTACK_LOCAL_IMAGES") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => {
            let out = Command::new(workspace().join("e2e/docker.sh"))
                .arg("images")
                .output()
                .expect("run e2e/docker.sh images");
            assert!(
                out.status.success(),
                "e2e/docker.sh images: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    lines
        .split([',', '\n'])
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&format!("{type_name}=")))
        .unwrap_or_else(|| panic!("no local image for {type_name} in {lines:?}"))
        .to_string()
}

/// A stack rendered with `devstack render k8s --include-secrets`, applied into its namespace
/// and rolled out.
pub struct Stack {
    pub ns: KubectlNamespace,
    pub name: String,
}

impl Stack {
    pub fn up(prefix: &str, services: &str, isolation: &str) -> Stack {
        let ns = KubectlNamespace::new(prefix).expect("create the test namespace");
        let name = "nodecheck".to_string();
        let stack = format!(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}, namespace: {}}}\nspec:\n  isolation: {isolation}\n  services:\n{services}",
            ns.name
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("stack.yaml");
        std::fs::write(&file, stack).expect("write stack");
        let render = Command::new(env!("CARGO_BIN_EXE_devstack"))
            .args(["render", "k8s"])
            .arg(&file)
            .arg("--include-secrets")
            .args([
                "--image-override",
                &format!("postgres={}", local_image("postgres")),
            ])
            .args([
                "--image-override",
                &format!("redis={}", local_image("redis")),
            ])
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
        let stack = Stack { ns, name };
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
        stack
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

/// A TCP connection from `service` to HOST:PORT (bash's /dev/tcp; no client protocol involved).
pub fn tcp(host: &str, port: u16) -> String {
    format!("timeout 4 bash -c '</dev/tcp/{host}/{port}' && echo connected")
}
