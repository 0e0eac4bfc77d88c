//! devstack's Compose rendering run by the harness's Compose (`e2e/docker.sh compose-bin`) on
//! its engine: the Docker side of the tests that compare devstack with Compose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::workspace_root;

/// `$var` when set, else what `e2e/<script> <arg>` prints (e.g. the engine's endpoint).
pub fn harness_value(script: &str, arg: &str, var: &str) -> String {
    if let Some(value) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        return value;
    }
    let out = Command::new(workspace_root().join("e2e").join(script))
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("e2e/{script} {arg}: {e}"));
    assert!(
        out.status.success(),
        "e2e/{script} {arg}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `devstack render compose STACK ARGS… -o OUT` (the `.env` beside OUT; ARGS such as
/// `--image-override TYPE=IMAGE`); panics with devstack's message when it fails.
pub fn render_compose(stack_file: &Path, args: &[String], out: &Path) {
    let rendered = Command::new(crate::bin::devstack())
        .args(["render", "compose"])
        .arg(stack_file)
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("run devstack render compose: {e}"));
    assert!(
        rendered.status.success(),
        "render compose: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
}

/// A Compose project on the harness's engine; `down -v` when dropped.
pub struct ComposeProject {
    compose: String,
    docker_host: String,
    file: PathBuf,
    name: String,
}

impl ComposeProject {
    /// Project `name` of compose file `file`.
    pub fn new(file: PathBuf, name: &str) -> Self {
        ComposeProject {
            compose: harness_value("docker.sh", "compose-bin", "DEVSTACK_COMPOSE_BIN"),
            docker_host: harness_value("docker.sh", "endpoint", "DOCKER_HOST"),
            file,
            name: name.to_string(),
        }
    }

    /// The compose file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// `docker compose -p NAME -f FILE ARGS…`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.compose)
            .env("DOCKER_HOST", &self.docker_host)
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.compose))
    }

    /// (exit 0, stdout, stderr) of `sh -c script` in `service`.
    pub fn sh(&self, service: &str, script: &str) -> (bool, String, String) {
        let out = self.run(&["exec", "-T", service, "sh", "-c", script]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}
