//! Issue 18 points 1, 2 and 6 on the project's private Docker engine, through `devstack up`:
//! a service's files arrive with their exact bytes and mode (read back from inside the
//! container), a changed file recreates the service that mounts it (and only it; `docker
//! compose up` agrees), an image service's `storage` survives a recreate and a down/up and is
//! wiped by reset, the pgvector type creates the `vector` extension on first start, postgres
//! runs init SQL given through `files`, and live parity has no mismatch.
//!
//! Needs the engine with the postgres and pgvector images
//! (`DEVSTACK_IMAGES="postgres pgvector" e2e/docker.sh up`); without it the test fails.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use support::{local_image, ok, text, Stack};

const CONFIG: &str = "# app config\nlevel: info\nprice: $5 ${NOT_INTERPOLATED}\n";

fn stack_yaml(name: &str) -> String {
    let image = local_image("postgres");
    format!(
        r#"apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {{name: {name}}}
spec:
  services:
    vec: {{type: pgvector}}
    db:
      type: postgres
      files:
        /docker-entrypoint-initdb.d/10-seed.sql: {{content: "CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (7);"}}
    app:
      image: {image}
      command: [sleep, infinity]
      storage: {{path: /app/data}}
      files:
        /etc/app/config.yaml: {{source: ./config.yaml}}
        /etc/app/secret.key: {{content: "k3y\n", mode: "0600"}}
"#
    )
}

/// Runs `script` with sh as root in `service`'s container; asserts success, returns stdout.
fn sh(stack: &Stack, service: &str, script: &str) -> String {
    let out = stack.compose(
        true,
        &["exec", "-T", "-u", "0", service, "sh", "-c", script],
    );
    ok(&out, &format!("exec in {service}: {script}"))
}

fn psql(stack: &Stack, service: &str, sql: &str) -> String {
    sh(
        stack,
        service,
        &format!("psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tAc \"{sql}\""),
    )
    .trim()
    .to_string()
}

fn container_id(stack: &Stack, service: &str) -> String {
    ok(
        &stack.compose(true, &["ps", "-q", service]),
        "compose ps -q",
    )
    .trim()
    .to_string()
}

#[test]
fn files_storage_and_database_init_on_docker() {
    let name = format!("files{}", std::process::id());
    let stack = Stack::new(&name, &stack_yaml(&name));
    std::fs::write(stack.dir.path().join("config.yaml"), CONFIG).unwrap();
    ok(&stack.devstack(&["up"]), "devstack up");

    // Bytes and mode, from inside the container.
    assert_eq!(sh(&stack, "app", "cat /etc/app/config.yaml"), CONFIG);
    assert_eq!(sh(&stack, "app", "cat /etc/app/secret.key"), "k3y\n");
    let modes = sh(
        &stack,
        "app",
        "stat -c '%a %n' /etc/app/config.yaml /etc/app/secret.key",
    );
    assert_eq!(modes, "644 /etc/app/config.yaml\n600 /etc/app/secret.key\n");
    let write = stack.compose(
        true,
        &[
            "exec",
            "-T",
            "-u",
            "0",
            "app",
            "sh",
            "-c",
            "echo x >> /etc/app/config.yaml",
        ],
    );
    assert!(!write.status.success(), "files are read-only");

    // Database init: pgvector's extension, postgres's init SQL from files.
    assert_eq!(
        psql(
            &stack,
            "vec",
            "SELECT extname FROM pg_extension WHERE extname = 'vector'"
        ),
        "vector"
    );
    assert_eq!(
        psql(&stack, "vec", "SELECT '[1,2]'::vector <-> '[1,3]'::vector"),
        "1"
    );
    assert_eq!(psql(&stack, "db", "SELECT id FROM seeded"), "7");

    // Live parity, files included.
    let parity = stack.devstack_with(&["parity"], &["--live"], &[]);
    let table = ok(&parity, "devstack parity --live");
    assert!(table.contains("0 mismatches"), "{table}");
    assert!(table.contains("files"), "{table}");

    // Data of the image service survives a recreate caused by a changed file.
    sh(&stack, "app", "echo kept > /app/data/x");
    let (db_before, app_before) = (container_id(&stack, "db"), container_id(&stack, "app"));
    let changed = CONFIG.replace("info", "debug");
    std::fs::write(stack.dir.path().join("config.yaml"), &changed).unwrap();
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    ok(&out, "up after a changed file");
    assert!(
        stderr.contains("1 recreated") && stderr.contains("2 unchanged"),
        "{stderr}"
    );
    assert_ne!(container_id(&stack, "app"), app_before);
    assert_eq!(container_id(&stack, "db"), db_before);
    assert_eq!(sh(&stack, "app", "cat /etc/app/config.yaml"), changed);
    assert_eq!(sh(&stack, "app", "cat /app/data/x"), "kept\n");
    // Compose computes the same configuration: it recreates nothing.
    let app_now = container_id(&stack, "app");
    ok(&stack.compose(true, &["up", "-d", "--wait"]), "compose up");
    assert_eq!(
        container_id(&stack, "app"),
        app_now,
        "compose recreated app"
    );

    // down/up keeps the data; reset wipes it.
    ok(&stack.devstack(&["down"]), "devstack down");
    ok(&stack.devstack(&["up"]), "devstack up again");
    assert_eq!(sh(&stack, "app", "cat /app/data/x"), "kept\n");
    ok(
        &stack.devstack_with(&["reset"], &["--yes"], &[]),
        "devstack reset",
    );
    ok(&stack.devstack(&["up"]), "devstack up after reset");
    let gone = stack.compose(
        true,
        &["exec", "-T", "-u", "0", "app", "test", "-e", "/app/data/x"],
    );
    assert!(!gone.status.success(), "reset must wipe the data");
    ok(&stack.devstack(&["down"]), "devstack down");
}

#[test]
fn bad_files_fail_before_anything_is_created() {
    let name = format!("filesbad{}", std::process::id());
    let yaml = stack_yaml(&name)
        .replace("./config.yaml", "./missing.yaml")
        .replace("/etc/app/secret.key", "etc/app/secret.key");
    let stack = Stack::new(&name, &yaml);
    let out = stack.devstack(&["up"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("spec.services.app.files./etc/app/config.yaml.source")
            && stderr.contains("missing.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.services.app.files.etc/app/secret.key"),
        "{stderr}"
    );
    assert!(stack.leftovers().is_empty(), "{:?}", stack.leftovers());
}
