//! The pace of `devstack up`'s own health checks on the project's private Docker engine (issue
//! 21, K4): each check is an exec, a new process in the container that competes with the
//! service's start (postgres' initdb). While a container listens on none of its ports the
//! driver checks about once a second instead of every 250 ms, and at once when it listens.
//!
//! Needs the engine (`e2e/docker.sh up`); without it the test fails, never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use support::{local_image, ok, Stack};

/// Seconds the service waits before it listens.
const SILENT_SECONDS: u32 = 6;

#[test]
fn a_service_not_listening_yet_is_checked_seldom_and_ready_once_it_listens() {
    let name = format!("drvpace{}", std::process::id());
    // The check counts its runs in the container; the engine's own checks (every 60 s) do not
    // run within the test.
    let yaml = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    late:\n      image: {}\n      command: [sh, -c, 'sleep {SILENT_SECONDS}; exec redis-server --port 6380 --save \"\"']\n      ports: [{{name: redis, containerPort: 6380}}]\n      healthcheck:\n        exec: {{command: [sh, -c, 'echo run >> /tmp/checks; redis-cli -p 6380 ping | grep -q PONG']}}\n        intervalSeconds: 60\n",
        local_image("redis")
    );
    let stack = Stack::new(&name, &yaml);
    ok(&stack.devstack(&["up"]), "devstack up");

    let id = ok(&stack.compose(false, &["ps", "-q", "late"]), "compose ps");
    let counted = stack.docker(&["exec", id.trim(), "sh", "-c", "wc -l < /tmp/checks"]);
    let checks: u32 = ok(&counted, "count the checks").trim().parse().unwrap();
    // Every 250 ms (and the time a check takes) made 12 checks in 4 silent seconds (tried with
    // the pace disabled); once a second and once more as it listens made 7 in 6, a few more
    // when a loaded machine starts redis late.
    eprintln!("{checks} checks in {SILENT_SECONDS} silent seconds");
    assert!(
        (2..=SILENT_SECONDS + 4).contains(&checks),
        "{checks} checks while the service was silent for {SILENT_SECONDS} s"
    );
}
