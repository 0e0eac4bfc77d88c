//! `devstack up / down / reset / status / env / logs` on the project's private Docker engine
//! with the locally built postgres and redis images: the full life of a stack, Compose and
//! devstack managing each other's containers, and every fault leaving nothing behind.
//!
//! Needs the engine (`e2e/docker.sh up`); without it the tests fail, never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use devstack_e2e::{free_host_port_besides, free_host_ports};
use support::{local_image, ok, text, Stack};

/// postgres + redis published on the host, two dependents (clients in the same images).
fn stack_yaml(name: &str, pg_port: u16, redis_port: u16) -> String {
    let postgres = local_image("postgres");
    let redis = local_image("redis");
    format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: postgres, hostPorts: {{postgres: {pg_port}}}, env: {{POSTGRES_DB: orders}}}}\n    cache: {{type: redis, hostPorts: {{redis: {redis_port}}}}}\n    app:\n      image: {postgres}\n      command: [sleep, infinity]\n      dependsOn: [db, cache]\n    worker:\n      image: {redis}\n      command: [sleep, infinity]\n      dependsOn: [cache]\n"
    )
}

/// The settings `devstack env` prints for `service`, secrets shown.
fn env_of(stack: &Stack, service: &str) -> BTreeMap<String, String> {
    let out = stack.devstack_with(
        &["env"],
        &["--service", service, "--format", "json", "--show-secrets"],
        &[],
    );
    serde_json::from_str(&ok(&out, "devstack env")).expect("env json")
}

/// Runs SQL through `psql` on the host network with the URL `devstack env` printed.
fn psql(stack: &Stack, url: &str, sql: &str) -> (bool, String) {
    let out = stack.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        &local_image("postgres"),
        "psql",
        url,
        "-tAc",
        sql,
    ]);
    let (stdout, stderr) = text(&out);
    (out.status.success(), format!("{stdout}{stderr}"))
}

fn container_ids(stack: &Stack) -> String {
    let out = stack.compose(false, &["ps", "-q"]);
    let mut ids: Vec<String> = ok(&out, "compose ps -q")
        .lines()
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.join(",")
}

#[test]
fn a_stack_lives_through_up_down_and_reset_and_compose_manages_it_too() {
    let name = format!("drvlife{}", std::process::id());
    let [pg_port, redis_port] = free_host_ports();
    let stack = Stack::new(&name, &stack_yaml(&name, pg_port, redis_port));

    // up → healthy; a client on the host logs in with what `devstack env` prints.
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    ok(&out, "devstack up");
    assert!(stderr.contains("4 created"), "{stderr}");
    let env = env_of(&stack, "db");
    assert_eq!(env["DB_HOST"], "127.0.0.1");
    let url = env["DB_URL"].clone();
    let (logged_in, output) = psql(
        &stack,
        &url,
        "create table kept (v int); insert into kept values (42)",
    );
    assert!(logged_in, "{output}");
    let redacted = ok(
        &stack.devstack_with(&["env"], &["--service", "db"], &[]),
        "env",
    );
    assert!(
        redacted.contains("<redacted>") && !redacted.contains(&env["DB_PASSWORD"]),
        "{redacted}"
    );

    // The running containers equal the compose rendering on every parity aspect.
    let parity = stack.devstack_with(&["parity"], &["--live"], &[]);
    let table = ok(&parity, "devstack parity --live");
    assert!(table.contains("0 mismatches"), "{table}");

    // Compose sees devstack's containers; a second `up` and `docker compose up` touch nothing.
    let ps = ok(
        &stack.compose(false, &["ps", "--format", "{{.Service}}"]),
        "ps",
    );
    let mut services: Vec<&str> = ps.lines().collect();
    services.sort_unstable();
    assert_eq!(services, ["app", "cache", "db", "worker"], "{ps}");
    let before = container_ids(&stack);
    let out = stack.devstack(&["up"]);
    ok(&out, "second devstack up");
    assert!(text(&out).1.contains("4 unchanged"), "{}", text(&out).1);
    ok(&stack.compose(true, &["up", "-d", "--wait"]), "compose up");
    assert_eq!(
        container_ids(&stack),
        before,
        "compose recreated devstack's containers"
    );
    // A changed service is recreated, the rest left alone.
    let yaml = std::fs::read_to_string(stack.dir.path().join("stack.yaml")).unwrap();
    let changed = yaml.replace(
        "command: [sleep, infinity]\n      dependsOn: [cache]",
        "command: [sleep, '3600']\n      dependsOn: [cache]",
    );
    assert_ne!(changed, yaml);
    std::fs::write(stack.dir.path().join("stack.yaml"), changed).unwrap();
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    ok(&out, "up after a change");
    assert!(
        stderr.contains("1 recreated") && stderr.contains("3 unchanged"),
        "{stderr}"
    );
    std::fs::write(stack.dir.path().join("stack.yaml"), &yaml).unwrap();
    ok(&stack.devstack(&["up"]), "up after reverting the change");
    let logs = ok(
        &stack.devstack_with(&["logs"], &["db"], &[]),
        "devstack logs",
    );
    assert!(logs.contains("ready to accept connections"), "{logs}");

    // down keeps volumes and credentials; Compose starts the stack again, devstack sees it.
    ok(&stack.devstack(&["down"]), "devstack down");
    assert_eq!(container_ids(&stack), "");
    assert!(stack.leftovers().iter().all(|l| l.starts_with("volume:")));
    ok(&stack.compose(true, &["up", "-d", "--wait"]), "compose up");
    let status: serde_json::Value = serde_json::from_str(&ok(
        &stack.devstack_with(&["status"], &["-o", "json"], &[]),
        "status",
    ))
    .unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{status}");
    assert!(rows.iter().all(|r| r["state"] == "running"), "{status}");
    let db = rows.iter().find(|r| r["service"] == "db").unwrap();
    assert_eq!(db["health"], "healthy", "{status}");
    let before = container_ids(&stack);
    let out = stack.devstack(&["up"]);
    ok(&out, "devstack up over compose's containers");
    assert!(text(&out).1.contains("4 unchanged"), "{}", text(&out).1);
    assert_eq!(container_ids(&stack), before);
    assert_eq!(env_of(&stack, "db")["DB_PASSWORD"], env["DB_PASSWORD"]);
    let table = ok(
        &stack.devstack_with(&["parity"], &["--live"], &[]),
        "parity --live of compose's containers",
    );
    assert!(table.contains("0 mismatches"), "{table}");
    let (_, value) = psql(&stack, &url, "select v from kept");
    assert_eq!(value.trim(), "42", "data lost across down/up");

    // reset: refuses without --yes off a terminal; with it, data and password are new.
    let refused = stack.devstack(&["reset"]);
    assert_eq!(refused.status.code(), Some(2), "{:?}", text(&refused));
    ok(&stack.devstack_with(&["reset"], &["--yes"], &[]), "reset");
    assert_eq!(stack.leftovers(), Vec::<String>::new());
    ok(&stack.devstack(&["up"]), "up after reset");
    let fresh = env_of(&stack, "db");
    assert_ne!(fresh["DB_PASSWORD"], env["DB_PASSWORD"]);
    let (old_works, _) = psql(&stack, &url, "select 1");
    assert!(!old_works, "the old password still works after reset");
    let (_, output) = psql(&stack, &fresh["DB_URL"], "select count(*) from kept");
    assert!(output.contains("does not exist"), "{output}");

    // Live parity notices a container that drifted from the rendering.
    let db = format!("{name}-db-1");
    ok(
        &stack.docker(&["update", "--memory-reservation", "64m", &db]),
        "docker update",
    );
    let drifted = stack.devstack_with(&["parity"], &["--live"], &[]);
    let (table, _) = text(&drifted);
    assert_eq!(drifted.status.code(), Some(1), "{table}");
    assert!(table.contains("db resources: MISMATCH"), "{table}");
}

/// Asserts a failed `up`: exit code, every `needles` in stderr, nothing of the project left.
fn assert_fails_clean(stack: &Stack, out: &std::process::Output, code: i32, needles: &[&str]) {
    let (_, stderr) = text(out);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing in:\n{stderr}");
    }
    assert_eq!(stack.leftovers(), Vec::<String>::new(), "{stderr}");
}

#[test]
fn faults_name_the_cause_and_the_fix_and_leave_nothing_behind() {
    // A host port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let name = format!("drvport{}", std::process::id());
    let stack = Stack::new(
        &name,
        &stack_yaml(&name, port, free_host_port_besides(&[port])),
    );
    let out = stack.devstack(&["up"]);
    let port_text = format!("127.0.0.1:{port}");
    assert_fails_clean(&stack, &out, 1, &["\"db\"", &port_text, "hostPorts"]);
    drop(taken);

    // An image that is neither present nor pullable (a registry on a closed loopback port).
    let name = format!("drvimg{}", std::process::id());
    let [pg_port, redis_port] = free_host_ports();
    let stack = Stack::new(&name, &stack_yaml(&name, pg_port, redis_port));
    let missing = "127.0.0.1:9/devstack-missing:1";
    let out = std::process::Command::new(devstack_e2e::bin::devstack())
        .current_dir(stack.dir.path())
        .env("DOCKER_HOST", &stack.docker_host)
        .args(["up", "stack.yaml", "--image-override"])
        .arg(format!("postgres={missing}"))
        .args([
            "--image-override",
            &format!("redis={}", local_image("redis")),
        ])
        .output()
        .unwrap();
    assert_fails_clean(&stack, &out, 1, &[missing, "--image-override"]);

    // A service that never becomes healthy: its name, the check's output and the log tail.
    let name = format!("drvsick{}", std::process::id());
    let sick = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    sick:\n      image: {}\n      command: [sh, -c, 'echo booting-sick; sleep infinity']\n      healthcheck: {{exec: {{command: [sh, -c, 'echo not-ready-yet; exit 1']}}}}\n",
        local_image("redis")
    );
    let stack = Stack::new(&name, &sick);
    let out = stack.devstack_with(&["up"], &["--timeout", "4"], &[]);
    assert_fails_clean(
        &stack,
        &out,
        1,
        &["\"sick\"", "not-ready-yet", "booting-sick"],
    );

    // No engine: the fix, before anything else happens.
    let out = stack.devstack_with(
        &["up"],
        &[],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_fails_clean(
        &stack,
        &out,
        1,
        &["cannot reach the Docker engine", "DOCKER_HOST"],
    );

    // An invalid stack: validate's field errors, exit 2, and no engine call (the engine is
    // unreachable here, which would otherwise be the error).
    let name = format!("drvbad{}", std::process::id());
    let stack = Stack::new(
        &name,
        &format!("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: nosuch}}\n"),
    );
    let validate = stack.devstack(&["validate"]);
    let out = stack.devstack_with(
        &["up"],
        &[],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(validate.status.code(), Some(2));
    assert_fails_clean(&stack, &out, 2, &["spec.services.db.type"]);
    assert_eq!(text(&out).1, text(&validate).1);
}

#[test]
fn gpu_services_run_on_cpu_without_gpus_unless_gpus_are_required() {
    // This engine has neither an NVIDIA runtime nor CDI devices.
    let name = format!("drvgpu{}", std::process::id());
    let yaml = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    infer:\n      image: {}\n      command: [sleep, infinity]\n      gpu: 1\n",
        local_image("redis")
    );
    let stack = Stack::new(&name, &yaml);
    let out = stack.devstack_with(&["up"], &["--require-gpu"], &[]);
    assert_fails_clean(&stack, &out, 1, &["\"infer\"", "requires 1 GPU"]);
    ok(&stack.devstack(&["up"]), "up with the CPU fallback");
    let container = format!("{name}-infer-1");
    let inspect = ok(
        &stack.docker(&[
            "inspect",
            "--format",
            "{{json .Config.Env}} {{json .HostConfig.DeviceRequests}}",
            &container,
        ]),
        "inspect",
    );
    assert!(inspect.contains("\"DEVSTACK_GPU=0\""), "{inspect}");
    assert!(inspect.trim_end().ends_with("null"), "{inspect}");
    // The rendered file offers the same choice: with the CPU override, Compose finds the
    // container up to date.
    let cpu = stack.compose_file().with_file_name("compose.cpu.yaml");
    let before = ok(
        &stack.docker(&["inspect", "--format", "{{.Id}}", &container]),
        "id",
    );
    let out = stack.compose(
        false,
        &[
            "-f",
            stack.compose_file().to_str().unwrap(),
            "-f",
            cpu.to_str().unwrap(),
            "up",
            "-d",
            "--wait",
        ],
    );
    ok(&out, "compose up with the CPU override");
    let after = ok(
        &stack.docker(&["inspect", "--format", "{{.Id}}", &container]),
        "id",
    );
    assert_eq!(
        before, after,
        "compose recreated the CPU-fallback container"
    );
}

#[test]
fn a_spec_that_requires_its_gpu_fails_clearly_without_one() {
    let name = format!("drvgpureq{}", std::process::id());
    let yaml = format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    infer:\n      image: {}\n      command: [sleep, infinity]\n      gpu: 1\n      gpuRequired: true\n",
        local_image("redis")
    );
    let stack = Stack::new(&name, &yaml);
    let out = stack.devstack(&["up"]);
    assert_fails_clean(&stack, &out, 1, &["\"infer\"", "requires 1 GPU"]);
}

#[test]
fn an_interrupted_up_is_continued_by_the_next_one() {
    let name = format!("drvint{}", std::process::id());
    let [pg_port, redis_port] = free_host_ports();
    let stack = Stack::new(&name, &stack_yaml(&name, pg_port, redis_port));
    let child = std::process::Command::new(devstack_e2e::bin::devstack())
        .current_dir(stack.dir.path())
        .env("DOCKER_HOST", &stack.docker_host)
        .args(["up", "stack.yaml"])
        .args(support::image_overrides())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt as soon as the first container exists (postgres is still initializing).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !stack.leftovers().iter().any(|l| l.starts_with("ps:")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no container appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run `devstack up` again"), "{stderr}");
    let out = stack.devstack(&["up"]);
    ok(&out, "up after the interruption");
    let status: serde_json::Value = serde_json::from_str(&ok(
        &stack.devstack_with(&["status"], &["-o", "json"], &[]),
        "status",
    ))
    .unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{status}");
    assert!(rows.iter().all(|r| r["state"] == "running"), "{status}");
}

/// Issue 16 point 6 on a real engine (its own label filters): `reset` deletes only the volumes
/// carrying the stack's devstack label; an unrelated `docker compose` project's volume of the
/// same project name stays.
#[test]
fn reset_leaves_another_compose_projects_volume_of_the_same_name_alone() {
    let name = format!("drvforeign{}", std::process::id());
    let [pg_port, redis_port] = free_host_ports();
    let stack = Stack::new(&name, &stack_yaml(&name, pg_port, redis_port));
    let theirs = format!("{name}_theirs");
    let project = format!("com.docker.compose.project={name}");
    let create = ["volume", "create", "--label", &project, &theirs];
    ok(&stack.docker(&create), "docker volume create");
    ok(&stack.devstack(&["up"]), "devstack up");
    ok(
        &stack.devstack_with(&["reset"], &["--yes"], &[]),
        "devstack reset",
    );
    let inspect = stack.docker(&["volume", "inspect", &theirs]);
    assert!(inspect.status.success(), "reset removed {theirs}");
    assert_eq!(stack.leftovers(), [format!("volume:{theirs}")]);
}

/// Issue 21 on the harness's engine: right after `up` said every service healthy (its own
/// probe), the engine still says `starting` until its first check, one health interval (10 s)
/// after the start. `status` must not contradict `up`: each checked service reads `healthy`,
/// or `healthy (verified by devstack; engine: starting)` while the engine has not checked yet.
#[test]
fn status_right_after_up_never_contradicts_it() {
    let name = format!("drvhealth{}", std::process::id());
    let [pg_port, redis_port] = free_host_ports();
    let stack = Stack::new(&name, &stack_yaml(&name, pg_port, redis_port));
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    ok(&out, "devstack up");
    assert!(stderr.contains("4 created"), "{stderr}");
    let engine = ok(
        &stack.compose(false, &["ps", "--format", "{{.Service}} {{.Status}}"]),
        "compose ps",
    );
    let status: serde_json::Value = serde_json::from_str(&ok(
        &stack.devstack_with(&["status"], &["-o", "json"], &[]),
        "status",
    ))
    .unwrap();
    let rows = status.as_array().unwrap();
    let checked: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r["health"] != "-")
        .map(|r| {
            (
                r["service"].as_str().unwrap(),
                r["health"].as_str().unwrap(),
            )
        })
        .collect();
    let mut services: Vec<&str> = checked.iter().map(|(s, _)| *s).collect();
    services.sort_unstable();
    assert_eq!(services, ["cache", "db"], "{status}");
    for (service, health) in &checked {
        assert!(
            *health == "healthy" || *health == "healthy (verified by devstack; engine: starting)",
            "{service}: {health} right after up said healthy (engine: {engine})"
        );
    }
    let again = stack.devstack(&["up"]);
    ok(&again, "second devstack up");
    assert!(text(&again).1.contains("4 unchanged"), "{}", text(&again).1);
}
