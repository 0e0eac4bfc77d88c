//! A rendered stack really runs on the harness's real kubelet node: `devstack render k8s
//! --include-secrets` applied with kubectl, the local postgres and redis images (imported into
//! the node's containerd), real traffic between real pods behind the rendered NetworkPolicies.
//!
//! Each test uses a throwaway namespace. Needs `e2e/cluster.sh up` with its default real node
//! (and the local images of `e2e/docker.sh`); without them the tests fail, never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use devstack_e2e::kubectl::REAL_NODE;

mod node_support;
use node_support::{local_image, tcp, Stack};

#[test]
fn strict_stack_on_the_real_node_logs_in_keeps_isolation_and_data() {
    let pg = local_image("postgres");
    let redis = local_image("redis");
    let services = format!(
        "    db: {{type: postgres, env: {{POSTGRES_DB: orders}}, resources: {{limits: {{memory: 300Mi}}}}}}\n    cache: {{type: redis}}\n    app: {{image: {pg}, command: [sleep, infinity], dependsOn: [db, cache]}}\n    worker: {{image: {redis}, command: [sleep, infinity], dependsOn: [cache]}}\n    loner: {{image: {pg}, command: [sleep, infinity]}}\n"
    );
    let stack = Stack::up("node-strict", &services, "strict");

    // Every pod runs on the real node.
    for service in ["db", "cache", "app", "worker", "loner"] {
        let pod = stack.pod(service);
        assert_eq!(
            stack.pod_field(&pod, "{.spec.nodeName}"),
            REAL_NODE,
            "{pod}"
        );
    }

    // The dependent's environment holds exactly the values of <stack>-connections ...
    let url = stack.exec("app", "printenv DB_URL");
    assert_eq!(
        url.out(),
        stack.connection_value("DB_URL").trim(),
        "DB_URL in app"
    );
    // ... and they log in.
    let r = stack.exec_until_ok(
        "app",
        "psql \"$DB_URL\" -tAc 'select current_database()'",
        "psql with DB_URL from app",
    );
    assert_eq!(r.out(), "orders", "{r}");
    let r = stack.exec("app", "PGPASSWORD=\"$DB_PASSWORD\" psql -h \"$DB_HOST\" -p \"$DB_PORT\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'");
    assert!(
        r.ok && r.out() == "1",
        "psql with DB_HOST/PORT/USER/PASSWORD: {r}"
    );
    let r = stack.exec(
        "app",
        "PGPASSWORD=wrong psql -h \"$DB_HOST\" -U \"$DB_USER\" -d \"$DB_DB\" -tAc 'select 1'",
    );
    assert!(
        !r.ok && r.stderr.contains("password authentication failed"),
        "a wrong password must be refused: {r}"
    );

    let r = stack.exec_until_ok(
        "worker",
        "redis-cli -u \"$CACHE_URL\" --no-auth-warning ping | grep -x PONG",
        "redis-cli with CACHE_URL from worker",
    );
    assert_eq!(r.out(), "PONG");
    let r = stack.exec(
        "worker",
        "redis-cli -h \"$CACHE_HOST\" -p \"$CACHE_PORT\" ping",
    );
    assert!(
        r.out().contains("NOAUTH"),
        "redis without a password must be refused: {r}"
    );
    let r = stack.exec(
        "worker",
        "redis-cli -h \"$CACHE_HOST\" -p \"$CACHE_PORT\" -a wrong --no-auth-warning ping",
    );
    assert!(
        r.stderr.contains("WRONGPASS") && !r.stdout.contains("PONG"),
        "a wrong redis password must be refused: {r}"
    );

    // Strict isolation: the dependent reaches db by name and by pod IP; loner (no edge) reaches
    // neither, and no service reaches what it does not depend on.
    let db_ip = stack.pod_field(&stack.pod("db"), "{.status.podIP}");
    let db_host = format!("db.{}.svc.cluster.local", stack.ns());
    stack.exec_until_ok("app", &tcp(&db_host, 5432), "app -> db by name");
    stack.exec_until_ok("app", &tcp(&db_ip, 5432), "app -> db by pod IP");
    for (from, host, port) in [
        ("loner", db_host.as_str(), 5432),
        ("loner", db_ip.as_str(), 5432),
        ("loner", "cache", 6379),
        ("worker", "db", 5432),
    ] {
        let r = stack.exec(from, &tcp(host, port));
        assert!(
            !r.ok && !r.stdout.contains("connected"),
            "{from} reached {host}:{port} under strict isolation: {r}"
        );
    }
    // The name resolves (Kubernetes DNS has no per-edge view; the policy is what blocks).
    let r = stack.exec("loner", &format!("getent hosts {db_host}"));
    assert!(r.ok, "cluster DNS must answer for {db_host}: {r}");

    // The postgres pod runs as the catalog's UID, with a read-only root and no capabilities.
    let r = stack.exec("db", "id -u; awk '/^Uid:/ {print $2}' /proc/1/status");
    assert_eq!(
        r.out().lines().collect::<Vec<_>>(),
        ["999", "999"],
        "db uid: {r}"
    );
    let r = stack.exec("db", "touch /probe-readonly");
    assert!(
        !r.ok && r.stderr.contains("Read-only file system"),
        "db root must be read-only: {r}"
    );
    let r = stack.exec("db", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/1/status");
    assert!(r.ok, "{r}");
    assert_eq!(r.out().lines().count(), 5, "capability sets of db: {r}");
    for line in r.out().lines() {
        assert!(
            line.ends_with("0000000000000000"),
            "db must have no capabilities: {line}"
        );
    }

    // The memory limit is the container's cgroup limit.
    let r = stack.exec(
        "db",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    );
    assert_eq!(
        r.out(),
        (300u64 * 1024 * 1024).to_string(),
        "db memory cgroup limit: {r}"
    );

    // Data survives the deletion of the StatefulSet's pod.
    let nonce = format!("kept-{}", std::process::id());
    let r = stack.exec("app", &format!("psql \"$DB_URL\" -v ON_ERROR_STOP=1 -c 'create table keep (v text)' -c \"insert into keep values ('{nonce}')\""));
    assert!(r.ok, "write a row: {r}");
    let old_uid = stack.pod_field("db-0", "{.metadata.uid}");
    stack
        .kubectl()
        .run(&["delete", "pod", "-n", stack.ns(), "db-0", "--wait=true"])
        .expect("delete db-0");
    stack
        .kubectl()
        .wait_jsonpath(
            "db-0 to be re-created and Ready",
            &["pod", "-n", stack.ns(), "db-0"],
            "{.metadata.uid} {.status.conditions[?(@.type==\"Ready\")].status}",
            Duration::from_secs(120),
            |out| !out.starts_with(&old_uid) && out.ends_with("True"),
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", stack.describe()));
    let r = stack.exec_until_ok(
        "app",
        "psql \"$DB_URL\" -tAc 'select v from keep'",
        "read the row after db-0 was re-created",
    );
    assert_eq!(r.out(), nonce, "{r}");
}

#[test]
fn open_isolation_lets_every_pod_connect() {
    let pg = local_image("postgres");
    let services = format!(
        "    db: {{type: postgres}}\n    app: {{image: {pg}, command: [sleep, infinity], dependsOn: [db]}}\n    loner: {{image: {pg}, command: [sleep, infinity]}}\n"
    );
    let stack = Stack::up("node-open", &services, "open");
    let db_ip = stack.pod_field(&stack.pod("db"), "{.status.podIP}");
    for from in ["app", "loner"] {
        stack.exec_until_ok(
            from,
            &tcp("db", 5432),
            &format!("{from} -> db by name (open)"),
        );
        stack.exec_until_ok(
            from,
            &tcp(&db_ip, 5432),
            &format!("{from} -> db by pod IP (open)"),
        );
    }
    // Reaching the port is not logging in: without the password loner is still refused.
    let r = stack.exec(
        "loner",
        "PGPASSWORD=guess psql -h db -U postgres -tAc 'select 1'",
    );
    assert!(!r.ok, "a guessed password must be refused: {r}");
}
