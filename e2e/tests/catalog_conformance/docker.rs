//! The Docker side: `devstack up` (the CLI binary) on the engine of `e2e/docker.sh`, checks by
//! `docker exec`, `devstack reset --yes` afterwards.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use devstack_e2e::kubectl::ExecResult;

use crate::kinds::Kind;
use crate::{services_yaml, Runtime};

pub struct DockerStack {
    dir: tempfile::TempDir,
    name: String,
    host: String,
    bin: PathBuf,
    overrides: Vec<String>,
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl DockerStack {
    /// Writes the stack and runs `devstack up` (which waits until it is healthy).
    pub fn up(kind: &Kind, image: &str) -> Result<DockerStack, String> {
        let bin = devstack_e2e::bin::devstack();
        let name = devstack_e2e::unique_name(&format!("conf-{}", kind.type_name));
        let yaml = format!(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n{}",
            services_yaml(kind, image, Some(devstack_e2e::free_port()))
        );
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("stack.yaml"), yaml).map_err(|e| e.to_string())?;
        let stack = DockerStack {
            dir,
            name,
            host: devstack_e2e::docker_host(),
            bin,
            overrides: devstack_e2e::local_image_overrides().map_err(|e| format!("{e:#}"))?,
        };
        let out = stack.devstack(&["up", "stack.yaml", "--timeout", "180"], true);
        if !out.status.success() {
            return Err(format!("devstack up: {}", text(&out)));
        }
        Ok(stack)
    }

    fn devstack(&self, args: &[&str], overrides: bool) -> Output {
        let mut c = Command::new(&self.bin);
        c.current_dir(self.dir.path())
            .env("DOCKER_HOST", &self.host)
            .args(args);
        if overrides {
            c.args(&self.overrides);
        }
        c.output().expect("run devstack")
    }

    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .output()
            .expect("run docker")
    }

    fn container(&self, service: &str) -> Result<String, String> {
        let out = self.docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.name),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ]);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if id.is_empty() || id.contains('\n') {
            return Err(format!(
                "want one running container of {service}, found {id:?}"
            ));
        }
        Ok(id)
    }

    /// Docker's health status; `none` for a container without a health check, then `running`
    /// once it runs (the collector: Compose cannot run the catalog's HTTP probe).
    fn health(&self, id: &str) -> String {
        let out = self.docker(&[
            "inspect",
            "-f",
            "{{if .State.Health}}{{.State.Health.Status}}{{else if .State.Running}}running{{else}}none{{end}}",
            id,
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Until Docker reports `healthy` ("starting" until a check passes); fails on `unhealthy`.
    fn wait_healthy(&self, id: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.health(id);
            match status.as_str() {
                "healthy" | "running" => return Ok(()),
                "unhealthy" => return Err("docker health status \"unhealthy\"".into()),
                _ if Instant::now() >= deadline => {
                    return Err(format!("docker health status {status:?} after {timeout:?}"))
                }
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
}

impl Runtime for DockerStack {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn exec(&self, service: &str, script: &str) -> ExecResult {
        let id = match self.container(service) {
            Ok(id) => id,
            Err(e) => {
                return ExecResult {
                    ok: false,
                    stdout: String::new(),
                    stderr: e,
                }
            }
        };
        let out = self.docker(&["exec", &id, "sh", "-c", script]);
        ExecResult {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Docker's own verdict: `devstack up` probes readiness itself, so the engine's first
    /// check (after the catalog's interval) may still be due; it must then pass.
    fn healthy(&self, service: &str) -> Result<(), String> {
        let id = self.container(service)?;
        self.wait_healthy(&id, Duration::from_secs(90))
    }

    fn restart(&self, service: &str) -> Result<(), String> {
        let id = self.container(service)?;
        let out = self.docker(&["restart", &id]);
        if !out.status.success() {
            return Err(format!("docker restart: {}", text(&out)));
        }
        self.wait_healthy(&id, Duration::from_secs(120))
    }

    fn handed_value(&self, key: &str) -> Result<String, String> {
        let out = self.devstack(
            &[
                "env",
                "stack.yaml",
                "--service",
                crate::SERVICE,
                "--format",
                "json",
                "--show-secrets",
            ],
            true,
        );
        if !out.status.success() {
            return Err(format!("devstack env: {}", text(&out)));
        }
        let env: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("devstack env json: {e}"))?;
        env.get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| format!("devstack env printed no {key}"))
    }

    fn logs(&self, service: &str) -> Result<String, String> {
        self.container_logs(service)
    }
}

impl DockerStack {
    fn container_logs(&self, service: &str) -> Result<String, String> {
        let id = self.container(service)?;
        let out = self.docker(&["logs", &id]);
        if out.status.success() {
            Ok(text(&out))
        } else {
            Err(format!("docker logs: {}", text(&out)))
        }
    }
}

impl Drop for DockerStack {
    fn drop(&mut self) {
        let _ = self.devstack(&["reset", "stack.yaml", "--yes"], true);
    }
}
