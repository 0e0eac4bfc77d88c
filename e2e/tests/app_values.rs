//! Issue 18 points 3, 4, 5 and 7 on a real Docker engine through `devstack up`: an app secret
//! read inside the container equals what `devstack env --show-secrets` and the `.env` hold,
//! survives down/up, and changes (only it) with `devstack secrets rotate`, which recreates its
//! consumer; `connectionEnv` hands the dependency's value under the program's name; `env
//! --template` lists it; a fan-out's replicas each get their own port, env and name, reachable
//! from a dependent and from the host; live parity finds no mismatch.
//!
//! Needs the engine (`DEVSTACK_IMAGES="postgres redis" e2e/docker.sh up`); fails without it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::net::TcpStream;

use devstack_e2e::free_port;
use support::{local_image, ok, text, Stack};

/// Two consecutive free loopback ports (the fan-out's range).
fn port_pair() -> u16 {
    for _ in 0..50 {
        let base = free_port();
        if base < 65000 && std::net::TcpListener::bind(("127.0.0.1", base + 1)).is_ok() {
            return base;
        }
    }
    panic!("no two consecutive free loopback ports");
}

fn stack_yaml(name: &str, base: u16) -> String {
    let redis = local_image("redis");
    format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    db: {{type: postgres, env: {{POSTGRES_DB: orders}}}}\n    app:\n      image: {redis}\n      command: [sleep, infinity]\n      dependsOn: [db, worker]\n      secrets: [JWT_SECRET, OTHER_SECRET]\n      connectionEnv: {{DB_NAME: db.DB}}\n    worker:\n      image: {redis}\n      replicas: 2\n      command: [redis-server, --port, '{{{{replica.port}}}}', --save, '', --appendonly, 'no', --protected-mode, 'no']\n      ports: [{{name: redis, containerPort: {base}, hostPort: {base}}}]\n      env: {{WORKER_PORT: '{{{{replica.port}}}}', WORKER_PUBLIC_BASE_URL: 'http://{{{{replica.host}}}}:{{{{replica.port}}}}'}}\n"
    )
}

/// `sh -c script` in the container of `service`.
fn exec(stack: &Stack, service: &str, script: &str) -> String {
    let out = stack.compose(true, &["exec", "-T", service, "sh", "-c", script]);
    ok(&out, &format!("exec in {service}: {script}"))
        .trim()
        .to_string()
}

/// `KEY=value` of `devstack env … --show-secrets` for `service`.
fn shown(stack: &Stack, service: &str, key: &str) -> String {
    let out = stack.devstack_with(&["env"], &["--service", service, "--show-secrets"], &[]);
    let env = ok(&out, "devstack env --show-secrets");
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} not in devstack env:\n{env}"))
        .trim_matches('\'')
        .to_string()
}

fn dotenv(stack: &Stack, id: &str) -> String {
    let path = stack.compose_file().with_file_name(".env");
    let text = std::fs::read_to_string(&path).expect(".env");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{id}=")))
        .unwrap_or_else(|| panic!("{id} not in .env"))
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string()
}

#[test]
fn app_secrets_mapped_values_and_fan_out_on_docker() {
    let name = devstack_e2e::unique_name("appvalues");
    let base = port_pair();
    let stack = Stack::new(&name, &stack_yaml(&name, base));
    ok(&stack.devstack(&["up"]), "devstack up");

    // The app secret: in the container = devstack env --show-secrets = .env; never shown
    // without asking.
    let jwt = exec(&stack, "app", "printenv JWT_SECRET");
    let other = exec(&stack, "app", "printenv OTHER_SECRET");
    assert_eq!(jwt.len(), 32, "{jwt}");
    assert_eq!(shown(&stack, "app", "JWT_SECRET"), jwt);
    assert_eq!(dotenv(&stack, "DEVSTACK_APP_JWT_SECRET"), jwt);
    let hidden = ok(
        &stack.devstack_with(&["env"], &["--service", "app"], &[]),
        "env",
    );
    assert!(
        !hidden.contains(&jwt) && hidden.contains("JWT_SECRET='<redacted>'"),
        "{hidden}"
    );
    // The mapped key: db's database under the program's name.
    assert_eq!(exec(&stack, "app", "printenv DB_NAME"), "orders");
    assert_eq!(exec(&stack, "app", "printenv DB_DB"), "orders");

    // The template: every key app receives, secrets as placeholders.
    let template = ok(
        &stack.devstack_with(&["env"], &["--template", "--service", "app"], &[]),
        "env --template",
    );
    for line in [
        "JWT_SECRET=<secret>",
        "DB_NAME=orders",
        "DB_PASSWORD=<secret>",
    ] {
        assert!(
            template.lines().any(|l| l == line),
            "{line} missing:\n{template}"
        );
    }
    assert!(!template.contains(&jwt), "{template}");

    // Fan-out: each replica its own port, env and name; reachable by name and from the host.
    for (n, port) in [(1, base), (2, base + 1)] {
        let replica = format!("worker-{n}");
        assert_eq!(
            exec(&stack, &replica, "printenv WORKER_PORT"),
            port.to_string()
        );
        assert_eq!(
            exec(&stack, &replica, "printenv WORKER_PUBLIC_BASE_URL"),
            format!("http://{replica}:{port}")
        );
        let pong = exec(
            &stack,
            "app",
            &format!("redis-cli -h {replica} -p {port} ping"),
        );
        assert_eq!(pong, "PONG", "app reaches {replica} by name on {port}");
        TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("{replica} on host port {port}: {e}"));
    }

    // Live parity: what runs matches the compose rendering.
    let parity = stack.devstack_with(&["parity"], &["--live"], &[]);
    let (out, err) = text(&parity);
    assert!(
        parity.status.success() && out.contains(" 0 mismatches"),
        "{out}\n{err}"
    );

    // Stable across down/up.
    ok(&stack.devstack(&["down"]), "devstack down");
    ok(&stack.devstack(&["up"]), "devstack up again");
    assert_eq!(exec(&stack, "app", "printenv JWT_SECRET"), jwt);

    // Rotate one: a new value in the container, the .env and env; the other one kept.
    let bad = stack.devstack_with(&["secrets", "rotate"], &["app.JWT"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{:?}", text(&bad));
    assert!(
        text(&bad).1.contains("did you mean \"app.JWT_SECRET\""),
        "{:?}",
        text(&bad)
    );
    let rotated = stack.devstack_with(&["secrets", "rotate"], &["app.JWT_SECRET"], &[]);
    let (_, err) = text(&rotated);
    assert!(rotated.status.success(), "{err}");
    assert!(err.contains("recreated: app"), "{err}");
    assert!(!err.contains(&jwt), "{err}");
    let new = exec(&stack, "app", "printenv JWT_SECRET");
    assert_ne!(new, jwt);
    assert_eq!(new.len(), 32);
    assert_eq!(shown(&stack, "app", "JWT_SECRET"), new);
    assert_eq!(dotenv(&stack, "DEVSTACK_APP_JWT_SECRET"), new);
    assert_eq!(exec(&stack, "app", "printenv OTHER_SECRET"), other);

    ok(&stack.devstack(&["down"]), "devstack down");
}
