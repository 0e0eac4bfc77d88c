//! Issue 18 points 1, 2 and 6 through the operator on the harness's real kubelet node: a
//! service's files arrive with their exact bytes and mode (read back inside the pod), a changed
//! file rolls the service, an image service's `storage` survives the roll and a delete /
//! re-create of the DevStack, the pgvector type creates the `vector` extension on first start,
//! postgres runs init SQL given through `files`, the CLI's live parity of the cluster has no
//! mismatch, and a `source` file (which the operator cannot read) stalls the stack naming the
//! field.
//!
//! Needs `e2e/cluster.sh up` (real node) with the local postgres and pgvector images; fails
//! without them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

mod node_support;
use node_support::{devstack_yaml, local_image, local_image_overrides, Stack};

const CONFIG: &str = "# app config\nlevel: info\nprice: $5 $(NOT_EXPANDED)\n";

fn services(config: &str) -> String {
    let pg = local_image("postgres");
    let content = serde_json::to_string(config).unwrap();
    format!(
        r#"    vec: {{type: pgvector}}
    db:
      type: postgres
      files:
        /docker-entrypoint-initdb.d/10-seed.sql: {{content: "CREATE TABLE seeded (id int); INSERT INTO seeded VALUES (7);"}}
    app:
      image: {pg}
      # Exits on SIGTERM at once (a bare `sleep` as PID 1 ignores it: a 30 s grace per roll).
      command: [sh, -c, "trap 'exit 0' TERM; sleep infinity & wait"]
      storage: {{path: /app/data}}
      files:
        /etc/app/config.yaml: {{content: {content}}}
        /etc/app/secret.key: {{content: "k3y\n", mode: "0600"}}
"#
    )
}

fn psql(stack: &Stack, service: &str, sql: &str) -> String {
    let r = stack.exec(
        service,
        &format!("psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tAc \"{sql}\""),
    );
    assert!(r.ok, "{service}: {sql}: {r}");
    r.out().to_string()
}

fn apply(stack: &Stack, yaml: &str) {
    stack
        .kubectl()
        .run_with_input(&["apply", "-n", stack.ns(), "-f", "-"], Some(yaml))
        .expect("kubectl apply the DevStack");
}

/// Waits until the operator has applied a pod template whose files digest is not `old` and
/// the StatefulSet `service` has rolled out to it.
fn rolled_past(stack: &Stack, service: &str, old: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let jsonpath = "jsonpath={.spec.template.metadata.annotations.devstack\\.dev/files-hash}";
    loop {
        let now = stack
            .kubectl()
            .run(&[
                "get",
                "statefulset",
                "-n",
                stack.ns(),
                service,
                "-o",
                jsonpath,
            ])
            .unwrap_or_default();
        if !now.trim().is_empty() && now.trim() != old {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the operator did not apply the new files of {service}\n{}",
            stack.describe()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    stack
        .kubectl()
        .run(&[
            "rollout",
            "status",
            "-n",
            stack.ns(),
            &format!("statefulset/{service}"),
            "--timeout=180s",
        ])
        .unwrap_or_else(|e| panic!("{service} did not roll out: {e:#}\n{}", stack.describe()));
}

fn files_hash(stack: &Stack, service: &str) -> String {
    stack
        .kubectl()
        .run(&[
            "get",
            "statefulset",
            "-n",
            stack.ns(),
            service,
            "-o",
            "jsonpath={.spec.template.metadata.annotations.devstack\\.dev/files-hash}",
        ])
        .unwrap()
        .trim()
        .to_string()
}

fn wait(stack: &Stack, condition: &str, name: &str) {
    stack
        .kubectl()
        .run(&[
            "wait",
            "-n",
            stack.ns(),
            &format!("--for=condition={condition}"),
            &format!("devstack/{name}"),
            "--timeout=180s",
        ])
        .unwrap_or_else(|e| panic!("{name} {condition}: {e:#}\n{}", stack.describe()));
}

#[test]
fn files_storage_and_database_init_through_the_operator() {
    let name = format!("files{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let stack_file = dir.path().join("stack.yaml");
    let stack = Stack::through_operator("files-k8s", &name, |ns| {
        let spec = devstack_yaml(&name, ns, "strict", &services(CONFIG));
        std::fs::write(&stack_file, &spec).unwrap();
        spec
    });

    // Bytes and mode, inside the pod.
    assert_eq!(stack.exec("app", "cat /etc/app/config.yaml").stdout, CONFIG);
    assert_eq!(stack.exec("app", "cat /etc/app/secret.key").stdout, "k3y\n");
    let modes = stack.exec(
        "app",
        "stat -L -c '%a %n' /etc/app/config.yaml /etc/app/secret.key",
    );
    assert_eq!(
        modes.stdout,
        "644 /etc/app/config.yaml\n600 /etc/app/secret.key\n"
    );
    assert!(
        !stack.exec("app", "echo x >> /etc/app/config.yaml").ok,
        "read-only"
    );

    // Database init.
    assert_eq!(
        psql(
            &stack,
            "vec",
            "SELECT extname FROM pg_extension WHERE extname = 'vector'"
        ),
        "vector"
    );
    assert_eq!(psql(&stack, "db", "SELECT id FROM seeded"), "7");

    // The CLI's live parity of the cluster, files included.
    let parity = Command::new(devstack_e2e::bin::devstack())
        .args(["parity", "--live", "--runtime", "kubernetes"])
        .arg(&stack_file)
        .args(local_image_overrides())
        .env("KUBECONFIG", devstack_e2e::kubeconfig_source().unwrap())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&parity.stdout);
    assert!(
        parity.status.success() && table.contains(" 0 mismatches") && table.contains("files"),
        "{table}{}",
        String::from_utf8_lossy(&parity.stderr)
    );

    // A changed file rolls the pod; the data stays.
    assert!(stack.exec("app", "echo kept > /app/data/x").ok);
    let before = stack.pod_field(&stack.pod("app"), "{.metadata.uid}");
    let old_hash = files_hash(&stack, "app");
    assert_eq!(old_hash.len(), 32, "{old_hash}");
    let changed = CONFIG.replace("info", "debug");
    apply(
        &stack,
        &devstack_yaml(&name, stack.ns(), "strict", &services(&changed)),
    );
    rolled_past(&stack, "app", &old_hash);
    assert_ne!(
        stack.pod_field(&stack.pod("app"), "{.metadata.uid}"),
        before
    );
    assert_eq!(
        stack.exec("app", "cat /etc/app/config.yaml").stdout,
        changed
    );
    assert_eq!(stack.exec("app", "cat /app/data/x").stdout, "kept\n");

    // Delete and re-create: the retained claim is adopted, the data is there.
    stack
        .kubectl()
        .run(&[
            "delete",
            "devstack",
            "-n",
            stack.ns(),
            &name,
            "--timeout=120s",
        ])
        .expect("delete the DevStack");
    apply(
        &stack,
        &devstack_yaml(&name, stack.ns(), "strict", &services(&changed)),
    );
    wait(&stack, "Ready", &name);
    rolled_past(&stack, "app", "");
    assert_eq!(stack.exec("app", "cat /app/data/x").stdout, "kept\n");
    assert_eq!(psql(&stack, "db", "SELECT id FROM seeded"), "7");
}

#[test]
fn a_source_file_stalls_the_operator_naming_the_field() {
    let name = format!("filesrc{}", std::process::id());
    let services = "    app:\n      image: busybox:1\n      files:\n        /etc/app/config.yaml: {source: ./config.yaml}\n";
    let stack = Stack::through_operator_stalled("files-src", &name, |ns| {
        devstack_yaml(&name, ns, "strict", services)
    });
    let message = stack
        .kubectl()
        .run(&[
            "get",
            "devstack",
            "-n",
            stack.ns(),
            &name,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Stalled\")].message}",
        ])
        .unwrap();
    assert!(
        message.contains("spec.services.app.files./etc/app/config.yaml.source")
            && message.contains("content"),
        "{message}"
    );
    let workloads = stack
        .kubectl()
        .run(&[
            "get",
            "deployments,statefulsets,configmaps",
            "-n",
            stack.ns(),
            "-o",
            "name",
        ])
        .unwrap();
    assert!(
        !workloads.contains("deployment") && !workloads.contains("files"),
        "{workloads}"
    );
}
