//! Helpers for the tests that drive the project's private Docker engine through the
//! `devstack` binary: the engine address, the Compose binary, the local images, a throwaway
//! working directory per stack, and cleanup by the Compose project label.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script(name: &str, arg: &str) -> String {
    let out = Command::new(workspace().join("e2e").join(name))
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("e2e/{name} {arg}: {e}"));
    assert!(
        out.status.success(),
        "e2e/{name} {arg}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn env_or_script(var: &str, name: &str, arg: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => script(name, arg),
    }
}

/// The engine (`DOCKER_HOST` or `e2e/docker.sh endpoint`); a missing engine fails the test.
pub fn docker_host() -> String {
    let host = env_or_script("DOCKER_HOST", "docker.sh", "endpoint");
    let out = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .expect("run docker version");
    assert!(
        out.status.success(),
        "no Docker engine at {host} (run e2e/docker.sh up): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    host
}

/// The Compose v2 binary.
pub fn compose_bin() -> String {
    env_or_script("DEVSTACK_COMPOSE_BIN", "docker.sh", "compose-bin")
}

/// `--image-override` arguments for the locally built images.
pub fn image_overrides() -> Vec<String> {
    devstack_e2e::local_image_overrides().unwrap_or_else(|e| panic!("{e:#}"))
}

/// The local image for catalog `type_name`.
pub fn local_image(type_name: &str) -> String {
    devstack_e2e::local_image(type_name).unwrap_or_else(|e| panic!("{e:#}"))
}

/// A stack in its own working directory; everything with its project label is removed when
/// dropped.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub docker_host: String,
}

impl Stack {
    /// Writes `yaml` as `stack.yaml` in a fresh directory.
    pub fn new(name: &str, yaml: &str) -> Stack {
        Stack::on_engine(name, yaml, docker_host())
    }

    /// Like [`Stack::new`], on the engine at `docker_host`.
    pub fn on_engine(name: &str, yaml: &str, docker_host: String) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stack.yaml"), yaml).expect("write stack");
        Stack {
            dir,
            name: name.to_string(),
            docker_host,
        }
    }

    /// Runs `devstack ARGS… stack.yaml` (image overrides added for stack commands) in the
    /// stack's directory.
    pub fn devstack(&self, args: &[&str]) -> Output {
        self.devstack_with(args, &[], &[])
    }

    /// Like [`Stack::devstack`], with arguments after the stack file and extra environment.
    pub fn devstack_with(&self, args: &[&str], after: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(devstack_e2e::bin::devstack());
        command
            .current_dir(self.dir.path())
            .env("DOCKER_HOST", &self.docker_host)
            .args(args)
            .arg("stack.yaml")
            .args(after)
            .args(image_overrides());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run devstack")
    }

    /// `.devstack/<name>/compose.yaml`.
    pub fn compose_file(&self) -> PathBuf {
        self.dir
            .path()
            .join(".devstack")
            .join(&self.name)
            .join("compose.yaml")
    }

    /// Runs `docker compose -p NAME ARGS…` (with `-f` when `with_file`).
    pub fn compose(&self, with_file: bool, args: &[&str]) -> Output {
        let mut command = Command::new(compose_bin());
        command
            .current_dir(self.dir.path())
            .env("DOCKER_HOST", &self.docker_host)
            .args(["-p", &self.name]);
        if with_file {
            command.arg("-f").arg(self.compose_file());
        }
        command.args(args).output().expect("run compose")
    }

    /// Runs the docker CLI.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", &self.docker_host)
            .args(args)
            .output()
            .expect("run docker")
    }

    /// Names of the containers, networks and volumes labelled with this project.
    pub fn leftovers(&self) -> Vec<String> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let mut names = Vec::new();
        for (kind, format) in [
            ("ps", "{{.Names}}"),
            ("network", "{{.Name}}"),
            ("volume", "{{.Name}}"),
        ] {
            let args: Vec<&str> = match kind {
                "ps" => vec!["ps", "-a", "--filter", &filter, "--format", format],
                k => vec![k, "ls", "--filter", &filter, "--format", format],
            };
            let out = self.docker(&args);
            names.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| format!("{kind}:{l}")),
            );
        }
        names
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let ids = self.docker(&["ps", "-aq", "--filter", &filter]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        for kind in ["network", "volume"] {
            let out = self.docker(&[kind, "ls", "-q", "--filter", &filter]);
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.docker(&[kind, "rm", id]);
            }
        }
    }
}

/// stdout and stderr of `out` as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output, what: &str) -> String {
    let (stdout, stderr) = text(out);
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    stdout
}
