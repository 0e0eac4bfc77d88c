//! A rendered stack really runs on Docker: `devstack render compose -o` plus
//! `docker compose up --wait` on the project's private engine, with the locally built postgres
//! and redis images. Proves, on real containers, what parity only compares on paper: catalog
//! health checks pass under the security defaults, a dependent logs in with the connection
//! settings it received, and strict isolation keeps a service without the edge away.
//!
//! Needs the engine (`e2e/docker.sh up`); without it the test fails, never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use devstack_e2e::compose::{render_compose, ComposeProject};
use devstack_e2e::local_image;

/// Runs `script` with sh in `service`; returns (success, stdout+stderr).
fn exec(project: &ComposeProject, service: &str, script: &str) -> (bool, String) {
    let (ok, stdout, stderr) = project.sh(service, script);
    (ok, format!("{stdout}{stderr}"))
}

#[test]
fn a_rendered_stack_comes_up_healthy_and_keeps_its_isolation() {
    let postgres_image = local_image("postgres").expect("a local postgres image");
    let redis_image = local_image("redis").expect("a local redis image");

    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("upcheck{}", std::process::id());
    // `app` and `loner` reuse the local images as plain custom containers with clients in them.
    let stack = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: postgres, env: {{POSTGRES_DB: orders}}}}\n    cache: {{type: redis}}\n    app:\n      image: {postgres_image}\n      command: [sleep, infinity]\n      dependsOn: [db, cache]\n    worker:\n      image: {redis_image}\n      command: [sleep, infinity]\n      dependsOn: [cache]\n    loner:\n      image: {redis_image}\n      command: [sleep, infinity]\n"
    );
    let stack_file = dir.path().join("stack.yaml");
    std::fs::write(&stack_file, stack).expect("write stack");
    let file = dir.path().join("out/compose.yaml");
    render_compose(
        &stack_file,
        &[
            "--image-override".into(),
            format!("postgres={postgres_image}"),
            "--image-override".into(),
            format!("redis={redis_image}"),
        ],
        &file,
    );
    let project = ComposeProject::new(file, &name);
    let up = project.run(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(
        up.status.success(),
        "compose up --wait failed (health checks under read-only root, uid 999, cap_drop ALL):\n{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        String::from_utf8_lossy(&project.run(&["logs", "--no-color", "--tail", "40"]).stdout)
    );

    // The dependent logs in with exactly the settings it was given.
    let (ok, text) = exec(
        &project,
        "app",
        "psql \"$DB_URL\" -tAc 'select current_database()'",
    );
    assert!(ok && text.trim() == "orders", "psql with DB_URL: {text}");
    let (ok, text) = exec(&project, "app", "PGPASSWORD=\"$DB_PASSWORD\" psql -h \"$DB_HOST\" -p \"$DB_PORT\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'");
    assert!(
        ok && text.trim() == "1",
        "psql with DB_HOST/PORT/USER/PASSWORD: {text}"
    );
    let (ok, text) = exec(
        &project,
        "app",
        "PGPASSWORD=wrong psql -h \"$DB_HOST\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'",
    );
    assert!(!ok, "a wrong password must be refused: {text}");
    let (ok, text) = exec(
        &project,
        "app",
        "getent hosts cache >/dev/null && echo resolved",
    );
    assert!(
        ok && text.contains("resolved"),
        "app must resolve cache: {text}"
    );

    // Redis: the URL from the connection settings authenticates; no password is refused.
    let (ok, text) = exec(
        &project,
        "worker",
        "redis-cli -u \"$CACHE_URL\" --no-auth-warning ping",
    );
    assert!(
        ok && text.trim() == "PONG",
        "redis-cli with CACHE_URL: {text}"
    );
    let (_, text) = exec(
        &project,
        "worker",
        "redis-cli -h \"$CACHE_HOST\" -p \"$CACHE_PORT\" ping",
    );
    assert!(
        text.contains("NOAUTH"),
        "redis without a password must be refused: {text}"
    );

    // The password is on no command line: not in the server's argv (what `ps` on the host and
    // `docker inspect` show), only in its environment and its private config file.
    let env = std::fs::read_to_string(project.file().with_file_name(".env")).expect(".env");
    let password = env
        .lines()
        .find_map(|l| l.strip_prefix("DEVSTACK_CACHE_PASSWORD="))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        .expect("the cache password in .env");
    assert!(password.len() >= 16, "{password}");
    let (ok, argv) = exec(
        &project,
        "cache",
        "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < $f; echo; done",
    );
    assert!(ok && argv.contains("redis-server"), "{argv}");
    assert!(
        !argv.contains(password),
        "the redis password is on a command line: {argv}"
    );

    // Strict isolation: loner has no edge, so it can neither resolve nor reach db or cache.
    // Names of a shared network resolve at once through Docker's embedded DNS; an unknown name
    // is forwarded to the host's resolvers, which this sandbox cannot reach, hence the bounds.
    let (ok, text) = exec(
        &project,
        "loner",
        "timeout 3 getent hosts db || timeout 3 getent hosts cache",
    );
    assert!(!ok, "loner resolved a service it has no edge to: {text}");
    let (ok, text) = exec(
        &project,
        "loner",
        "timeout 3 redis-cli -h cache -a x --no-auth-warning ping",
    );
    assert!(!ok || !text.contains("PONG"), "loner reached cache: {text}");
}
