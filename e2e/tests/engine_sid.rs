//! Issue 21 on a Docker Engine with `healthcheck.start_interval` (Engine 25 and later): Debian
//! sid's docker.io (28.x, API 1.51), which `scripts/test.sh` starts beside the 20.10 engine
//! (`DEVSTACK_DOCKER_ENGINE=sid e2e/docker.sh up`, see `e2e/engine-sid.sh`) and names in
//! `DEVSTACK_DOCKER_SID_HOST`. On such an engine `devstack up` renders every health check with
//! `start_interval: 1s`, so the engine's own status turns healthy within about a second of the
//! service being ready, as the Kubernetes startup probe does; `status` and `docker compose`
//! agree with `up`. Without that engine the tests fail, never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use devstack_e2e::free_port;
use support::{local_image, ok, text, Stack};

/// The sid engine's address; its API must offer `start_interval` (1.44, Engine 25).
fn sid_host() -> String {
    let host = std::env::var("DEVSTACK_DOCKER_SID_HOST").expect(
        "DEVSTACK_DOCKER_SID_HOST is not set: start the sid engine (DEVSTACK_DOCKER_ENGINE=sid DEVSTACK_E2E_STATE=… DEVSTACK_DOCKER_RUN=… DEVSTACK_DOCKER_POOL=… e2e/docker.sh up) and set it to its endpoint",
    );
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output()
        .expect("run docker version");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (major, minor) = version.split_once('.').expect("an API version");
    let api = (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap());
    assert!(
        api >= (1, 44),
        "the engine at {host} speaks API {version}: start_interval needs 1.44 (Engine 25)"
    );
    host
}

fn stack_yaml(name: &str, pg_port: u16) -> String {
    let postgres = local_image("postgres");
    format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: postgres, hostPorts: {{postgres: {pg_port}}}}}\n    cache: {{type: redis}}\n    app:\n      image: {postgres}\n      command: [sleep, infinity]\n      dependsOn: [db, cache]\n"
    )
}

/// `docker inspect --format FORMAT` of the stack's container for `service`, trimmed.
fn inspect(stack: &Stack, service: &str, format: &str) -> String {
    let container = format!("{}-{service}-1", stack.name);
    let out = ok(
        &stack.docker(&["inspect", "--format", format, &container]),
        "docker inspect",
    );
    out.trim().to_string()
}

/// The engine's own health status of the stack's container for `service`, and how long ago
/// (by the engine's clock) the container started.
fn engine_health(stack: &Stack, service: &str) -> (String, f64) {
    let out = inspect(
        stack,
        service,
        "{{.State.Health.Status}} {{.State.StartedAt}}",
    );
    let (status, started) = out.split_once(' ').unwrap();
    let now = ok(
        &stack.docker(&["info", "--format", "{{.SystemTime}}"]),
        "docker info",
    );
    let age = seconds_between(started, now.trim());
    (status.to_string(), age)
}

/// Seconds between the container's start and the engine's first kept health check, then
/// between consecutive checks (the engine keeps the last five).
fn check_gaps(stack: &Stack, service: &str) -> Vec<f64> {
    // JSON: the log's times as RFC 3339 (a template prints Go's `time.Time` with spaces).
    let out = inspect(
        stack,
        service,
        "{{.State.StartedAt}} {{json .State.Health.Log}}",
    );
    let (started, log) = out.split_once(' ').unwrap();
    let log: Vec<serde_json::Value> = serde_json::from_str(log).unwrap();
    let mut starts: Vec<&str> = log.iter().map(|c| c["Start"].as_str().unwrap()).collect();
    if starts.len() < 5 {
        // Every check since the start is kept: measure the first from the start too.
        starts.insert(0, started);
    }
    starts
        .windows(2)
        .map(|pair| seconds_between(pair[0], pair[1]))
        .collect()
}

/// Seconds from RFC 3339 instant `from` to `to` (same day; the engine's clock).
fn seconds_between(from: &str, to: &str) -> f64 {
    let of_day = |t: &str| -> f64 {
        let time = t.split('T').nth(1).unwrap().trim_end_matches('Z');
        let time = time.split(['+', '-']).next().unwrap();
        let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap());
        let (h, m, s) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        h * 3600.0 + m * 60.0 + s
    };
    of_day(to) - of_day(from)
}

#[test]
fn the_engine_itself_finds_started_services_healthy_within_the_start_interval() {
    let name = format!("sidhealth{}", std::process::id());
    let stack = Stack::on_engine(&name, &stack_yaml(&name, free_port()), sid_host());
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    ok(&out, "devstack up");
    assert!(stderr.contains("3 created"), "{stderr}");
    let compose = std::fs::read_to_string(stack.compose_file()).unwrap();
    assert_eq!(
        compose.matches("start_interval: 1s").count(),
        2,
        "{compose}"
    );

    // `up` returned: devstack verified both services ready. The health interval is 10 s, so
    // without start_interval the engine checks 10 s after the start and every 10 s after that:
    // healthy within 3 s of `up` returning, with its checks ≈ 1 s apart, is the start interval
    // at work — however long the service itself took to start on a loaded machine.
    let up_returned = Instant::now();
    for service in ["db", "cache"] {
        loop {
            let (status, age) = engine_health(&stack, service);
            if status == "healthy" {
                break;
            }
            assert!(
                up_returned.elapsed() < Duration::from_secs(3),
                "{service}: still {status} {age:.1} s after the start, {:.1} s after up verified it",
                up_returned.elapsed().as_secs_f64()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let gaps = check_gaps(&stack, service);
        eprintln!("{service}: the engine's checks came {gaps:?} s apart");
        assert!(
            gaps.iter().all(|gap| (0.0..5.0).contains(gap)),
            "{service}: the engine's checks came {gaps:?} s apart (from the start): not the 1 s start interval"
        );
    }
    let status: serde_json::Value = serde_json::from_str(&ok(
        &stack.devstack_with(&["status"], &["-o", "json"], &[]),
        "status",
    ))
    .unwrap();
    for row in status.as_array().unwrap() {
        if row["health"] != "-" {
            assert_eq!(row["health"], "healthy", "{status}");
        }
    }
}

/// The config hash `up` labels its containers with covers `start_interval` as Compose computes
/// it: `docker compose up` of the written file recreates nothing, and `render compose
/// --start-interval` writes that same file.
#[test]
fn compose_takes_over_the_start_interval_rendering_unchanged() {
    let name = format!("sidcompose{}", std::process::id());
    let stack = Stack::on_engine(&name, &stack_yaml(&name, free_port()), sid_host());
    ok(&stack.devstack(&["up"]), "devstack up");
    let ids = || ok(&stack.compose(false, &["ps", "-q"]), "compose ps -q");
    let before = ids();
    ok(&stack.compose(true, &["up", "-d", "--wait"]), "compose up");
    assert_eq!(ids(), before, "compose recreated devstack's containers");
    let again = stack.devstack(&["up"]);
    ok(&again, "second devstack up");
    assert!(text(&again).1.contains("3 unchanged"), "{}", text(&again).1);

    let rendered = ok(
        &stack.devstack_with(&["render", "compose"], &["--start-interval"], &[]),
        "render compose --start-interval",
    );
    let written = std::fs::read_to_string(stack.compose_file()).unwrap();
    assert_eq!(rendered.trim_end(), written.trim_end());
    let plain = ok(
        &stack.devstack_with(&["render", "compose"], &[], &[]),
        "render compose",
    );
    assert!(!plain.contains("start_interval"), "{plain}");
}
