//! A rendered stack really runs on Docker: `devstack render compose -o` plus
//! `docker compose up --wait` on the project's private engine, with the locally built postgres
//! and redis images. Proves, on real containers, what parity only compares on paper: catalog
//! health checks pass under the security defaults, a dependent logs in with the connection
//! settings it received, and strict isolation keeps a service without the edge away.
//!
//! Needs the engine (`e2e/docker.sh up`); without it the test fails, never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

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

/// `type=image` lines of the locally built images.
fn local_images() -> Vec<String> {
    let lines = env_or_script("DEVSTACK_LOCAL_IMAGES", "docker.sh", "images");
    lines
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn image_of(images: &[String], type_name: &str) -> String {
    images
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{type_name}=")))
        .unwrap_or_else(|| panic!("no local image for {type_name} in {images:?}"))
        .to_string()
}

struct Project {
    compose: String,
    docker_host: String,
    file: PathBuf,
    name: String,
}

impl Project {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.compose)
            .env("DOCKER_HOST", &self.docker_host)
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .output()
            .expect("run compose")
    }

    /// Runs `script` with sh in `service`; returns (success, stdout+stderr).
    fn exec(&self, service: &str, script: &str) -> (bool, String) {
        let out = self.run(&["exec", "-T", service, "sh", "-c", script]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}

#[test]
fn a_rendered_stack_comes_up_healthy_and_keeps_its_isolation() {
    let docker_host = env_or_script("DOCKER_HOST", "docker.sh", "endpoint");
    let compose = env_or_script("DEVSTACK_COMPOSE_BIN", "docker.sh", "compose-bin");
    let images = local_images();
    let postgres_image = image_of(&images, "postgres");
    let redis_image = image_of(&images, "redis");

    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("upcheck{}", std::process::id());
    // `app` and `loner` reuse the local images as plain custom containers with clients in them.
    let stack = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: postgres, env: {{POSTGRES_DB: orders}}}}\n    cache: {{type: redis}}\n    app:\n      image: {postgres_image}\n      command: [sleep, infinity]\n      dependsOn: [db, cache]\n    worker:\n      image: {redis_image}\n      command: [sleep, infinity]\n      dependsOn: [cache]\n    loner:\n      image: {redis_image}\n      command: [sleep, infinity]\n"
    );
    let stack_file = dir.path().join("stack.yaml");
    std::fs::write(&stack_file, stack).expect("write stack");
    let file = dir.path().join("out/compose.yaml");
    let render = Command::new(devstack_e2e::bin::devstack())
        .args(["render", "compose"])
        .arg(&stack_file)
        .args(["--image-override", &format!("postgres={postgres_image}")])
        .args(["--image-override", &format!("redis={redis_image}")])
        .arg("-o")
        .arg(&file)
        .output()
        .expect("run devstack");
    assert!(
        render.status.success(),
        "render: {}",
        String::from_utf8_lossy(&render.stderr)
    );

    let project = Project {
        compose,
        docker_host,
        file,
        name,
    };
    let up = project.run(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(
        up.status.success(),
        "compose up --wait failed (health checks under read-only root, uid 999, cap_drop ALL):\n{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        String::from_utf8_lossy(&project.run(&["logs", "--no-color", "--tail", "40"]).stdout)
    );

    // The dependent logs in with exactly the settings it was given.
    let (ok, text) = project.exec("app", "psql \"$DB_URL\" -tAc 'select current_database()'");
    assert!(ok && text.trim() == "orders", "psql with DB_URL: {text}");
    let (ok, text) = project.exec("app", "PGPASSWORD=\"$DB_PASSWORD\" psql -h \"$DB_HOST\" -p \"$DB_PORT\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'");
    assert!(
        ok && text.trim() == "1",
        "psql with DB_HOST/PORT/USER/PASSWORD: {text}"
    );
    let (ok, text) = project.exec(
        "app",
        "PGPASSWORD=wrong psql -h \"$DB_HOST\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'",
    );
    assert!(!ok, "a wrong password must be refused: {text}");
    let (ok, text) = project.exec("app", "getent hosts cache >/dev/null && echo resolved");
    assert!(
        ok && text.contains("resolved"),
        "app must resolve cache: {text}"
    );

    // Redis: the URL from the connection settings authenticates; no password is refused.
    let (ok, text) = project.exec(
        "worker",
        "redis-cli -u \"$CACHE_URL\" --no-auth-warning ping",
    );
    assert!(
        ok && text.trim() == "PONG",
        "redis-cli with CACHE_URL: {text}"
    );
    let (_, text) = project.exec(
        "worker",
        "redis-cli -h \"$CACHE_HOST\" -p \"$CACHE_PORT\" ping",
    );
    assert!(
        text.contains("NOAUTH"),
        "redis without a password must be refused: {text}"
    );

    // Strict isolation: loner has no edge, so it can neither resolve nor reach db or cache.
    // Names of a shared network resolve at once through Docker's embedded DNS; an unknown name
    // is forwarded to the host's resolvers, which this sandbox cannot reach, hence the bounds.
    let (ok, text) = project.exec(
        "loner",
        "timeout 3 getent hosts db || timeout 3 getent hosts cache",
    );
    assert!(!ok, "loner resolved a service it has no edge to: {text}");
    let (ok, text) = project.exec(
        "loner",
        "timeout 3 redis-cli -h cache -a x --no-auth-warning ping",
    );
    assert!(!ok || !text.contains("PONG"), "loner reached cache: {text}");
}
