//! Live parity: one DevStack file runs on the harness's real kubelet node (reconciled by the
//! `devstack-operator` binary: the file `kubectl apply`d, `kubectl wait --for=condition=Ready`)
//! and on the project's Docker engine (its Compose rendering), both with the local
//! postgres/redis images. Both runtimes are asked the same questions — who reaches
//! whom, which credentials log in, the database's UID, root filesystem and capabilities, the
//! environment keys each container sees — the answers are printed side by side, and any
//! difference not listed in `BY_DESIGN` fails the test.
//!
//! Needs `e2e/cluster.sh up` (real node) and `e2e/docker.sh up`; fails without them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Command;

mod node_support;
use devstack_e2e::compose::{render_compose, ComposeProject};
use node_support::{devstack_yaml, local_image, tcp, Stack};

/// Differences between the runtimes that are by design (docs/parity.md), by question.
const BY_DESIGN: &[(&str, &str)] = &[];

/// Environment variables the runtime itself sets, not the stack.
fn runtime_noise(key: &str) -> bool {
    matches!(
        key,
        "HOSTNAME" | "HOME" | "PATH" | "PWD" | "SHLVL" | "_" | "TERM"
    ) || key.starts_with("KUBERNETES_")
}

/// One runtime, asked by shell scripts run in a service's container.
trait Runtime {
    /// (exit 0, stdout, stderr) of `sh -c script` in `service`.
    fn sh(&self, service: &str, script: &str) -> (bool, String, String);
}

impl Runtime for Stack {
    fn sh(&self, service: &str, script: &str) -> (bool, String, String) {
        let r = self.exec(service, script);
        (r.ok, r.stdout, r.stderr)
    }
}

impl Runtime for ComposeProject {
    fn sh(&self, service: &str, script: &str) -> (bool, String, String) {
        ComposeProject::sh(self, service, script)
    }
}

/// The questions, answered by one runtime.
fn ask(rt: &dyn Runtime) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    let yes_no = |ok: bool| if ok { "yes" } else { "no" }.to_string();
    for (from, to, port) in [
        ("app", "db", 5432),
        ("app", "cache", 6379),
        ("worker", "cache", 6379),
        ("worker", "db", 5432),
        ("loner", "db", 5432),
        ("loner", "cache", 6379),
    ] {
        let (ok, out, _) = rt.sh(from, &tcp(to, port));
        answers.insert(
            format!("reaches: {from} -> {to}:{port}"),
            yes_no(ok && out.contains("connected")),
        );
    }
    let (ok, out, _) = rt.sh("app", "psql \"$DB_URL\" -tAc 'select 1'");
    answers.insert(
        "login: app -> db with DB_URL".into(),
        yes_no(ok && out.trim() == "1"),
    );
    let (ok, _, _) = rt.sh(
        "app",
        "PGPASSWORD=wrong psql -h \"$DB_HOST\" -p \"$DB_PORT\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'",
    );
    answers.insert("login: app -> db with a wrong password".into(), yes_no(ok));
    let (_, out, _) = rt.sh(
        "worker",
        "redis-cli -u \"$CACHE_URL\" --no-auth-warning ping",
    );
    answers.insert(
        "login: worker -> cache with CACHE_URL".into(),
        yes_no(out.trim() == "PONG"),
    );
    let (_, out, _) = rt.sh("db", "awk '/^Uid:/ {print $2\"/\"$3}' /proc/1/status");
    answers.insert(
        "db: uid of the server (real/effective)".into(),
        out.trim().into(),
    );
    let (ok, _, err) = rt.sh("db", "touch /parity-probe");
    answers.insert(
        "db: root filesystem".into(),
        if !ok && err.contains("Read-only") {
            "read-only".into()
        } else {
            format!("writable ({})", err.trim())
        },
    );
    let (_, out, _) = rt.sh("db", "awk '/^Cap(Eff|Bnd):/ {print $1 $2}' /proc/1/status");
    answers.insert(
        "db: capabilities of the server".into(),
        out.split_whitespace().collect::<Vec<_>>().join(" "),
    );
    for service in ["db", "cache", "app", "worker", "loner"] {
        let (_, out, _) = rt.sh(service, "env | cut -d= -f1 | sort -u");
        let keys: Vec<&str> = out
            .lines()
            .map(str::trim)
            .filter(|k| !k.is_empty() && !runtime_noise(k))
            .collect();
        answers.insert(format!("env keys: {service}"), keys.join(","));
    }
    answers
}

#[test]
fn kubernetes_and_compose_answer_alike() {
    let pg = local_image("postgres");
    let redis = local_image("redis");
    let services = format!(
        "    db: {{type: postgres, env: {{POSTGRES_DB: orders}}}}\n    cache: {{type: redis}}\n    app: {{image: {pg}, command: [sleep, infinity], dependsOn: [db, cache]}}\n    worker: {{image: {redis}, command: [sleep, infinity], dependsOn: [cache]}}\n    loner: {{image: {pg}, command: [sleep, infinity]}}\n"
    );
    let name = format!("nodeparity{}", std::process::id());
    // One file for both runtimes: the operator gets it with kubectl, compose from the CLI.
    let dir = tempfile::tempdir().expect("tempdir");
    let stack_file = dir.path().join("stack.yaml");
    let stack = Stack::through_operator("live-parity", &name, |ns| {
        let spec = devstack_yaml(&name, ns, "strict", &services);
        std::fs::write(&stack_file, &spec).expect("write stack");
        spec
    });

    let file = dir.path().join("out/compose.yaml");
    render_compose(
        &stack_file,
        &[
            "--image-override".into(),
            format!("postgres={pg}"),
            "--image-override".into(),
            format!("redis={redis}"),
        ],
        &file,
    );
    let project = ComposeProject::new(file, &name);
    let up = project.run(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    assert!(
        up.status.success(),
        "compose up --wait: {}",
        String::from_utf8_lossy(&up.stderr)
    );

    // NetworkPolicies reach the node's firewall within a second of a pod starting; wait until
    // the dependent's own edge works before asking (the same readiness Compose gave us above).
    stack.exec_until_ok("app", &tcp("db", 5432), "app -> db on the real node");

    // The CLI's own live check of the Kubernetes side: the objects the operator applied
    // against the rendering; a different image for postgres is a mismatch it must see.
    let cli_parity = |postgres: &str| {
        Command::new(devstack_e2e::bin::devstack())
            .args(["parity", "--live", "--runtime", "kubernetes"])
            .arg(&stack_file)
            .args(["--image-override", &format!("postgres={postgres}")])
            .args(["--image-override", &format!("redis={redis}")])
            .env(
                "KUBECONFIG",
                devstack_e2e::kubeconfig_source().expect("kubeconfig"),
            )
            .output()
            .expect("run devstack parity --live --runtime kubernetes")
    };
    let live = cli_parity(&pg);
    let table = String::from_utf8_lossy(&live.stdout);
    println!("{table}");
    assert!(
        live.status.success() && table.contains(" 0 mismatches"),
        "devstack parity --live --runtime kubernetes: {table}{}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(
        table.contains("kubernetes rendering vs objects in the cluster"),
        "{table}"
    );
    let drifted = cli_parity("devstack-local/postgres:other");
    let table = String::from_utf8_lossy(&drifted.stdout);
    assert_eq!(drifted.status.code(), Some(1), "{table}");
    assert!(table.contains("db image: MISMATCH"), "{table}");

    let k8s = ask(&stack);
    let compose = ask(&project);
    let mut table = format!(
        "{:<42} {:<34} {:<34} verdict\n",
        "question", "kubernetes (operator, real node)", "compose (docker)"
    );
    let mut mismatches = Vec::new();
    for (question, k) in &k8s {
        let c = compose.get(question).cloned().unwrap_or_default();
        let verdict = if *k == c {
            "same"
        } else if BY_DESIGN.iter().any(|(q, _)| q == question) {
            "by design"
        } else {
            mismatches.push(question.clone());
            "MISMATCH"
        };
        table.push_str(&format!("{question:<42} {k:<34} {c:<34} {verdict}\n"));
    }
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "the runtimes answer differently: {mismatches:?}\n{table}"
    );
    // The answers themselves are the secure ones (parity of two wrong answers is no comfort).
    for (q, want) in [
        ("reaches: app -> db:5432", "yes"),
        ("reaches: loner -> db:5432", "no"),
        ("reaches: worker -> db:5432", "no"),
        ("login: app -> db with DB_URL", "yes"),
        ("login: app -> db with a wrong password", "no"),
        ("login: worker -> cache with CACHE_URL", "yes"),
        ("db: root filesystem", "read-only"),
    ] {
        assert_eq!(k8s[q], want, "{q}\n{table}");
    }
}
