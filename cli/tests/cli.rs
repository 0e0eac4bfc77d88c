//! The `devstack` binary end to end: exit codes, outputs, the secrets file, parity of every
//! example.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use devstack_core::test_support as fixtures;

fn devstack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run devstack")
}

fn workspace() -> PathBuf {
    fixtures::workspace()
}

/// Every example file, by name.
fn examples() -> Vec<PathBuf> {
    fixtures::examples()
        .into_iter()
        .map(|(stem, _)| fixtures::examples_dir().join(format!("{stem}.yaml")))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_stack(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("stack.yaml");
    std::fs::write(&path, fixtures::manifest("demo", body)).expect("write");
    path
}

#[test]
fn every_example_validates() {
    for file in examples() {
        let out = devstack(&["validate", file.to_str().expect("utf8")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("valid"), "{}", text(&out.stdout));
    }
}

#[test]
fn every_example_passes_parity_with_zero_mismatches() {
    for file in examples() {
        let out = devstack(&["parity", file.to_str().expect("utf8")]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{stdout}\n{}",
            file.display(),
            text(&out.stderr)
        );
        assert!(stdout.contains(", 0 mismatches"), "{stdout}");
        assert!(!stdout.contains("MISMATCH"), "{stdout}");
    }
}

#[test]
fn parity_json_lists_every_aspect() {
    let out = devstack(&["parity", "examples/soma-shared-infra.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = report["rows"].as_array().expect("rows");
    for aspect in [
        "image",
        "command",
        "env",
        "secrets",
        "ports",
        "host-ports",
        "health",
        "order",
        "resources",
        "volumes",
        "mounts",
        "security",
        "replicas",
        "reachability",
    ] {
        assert!(
            rows.iter().any(|r| r["aspect"] == aspect),
            "missing aspect {aspect}"
        );
    }
}

#[test]
fn invalid_input_exits_2_with_the_field_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_stack(
        dir.path(),
        "  services:\n    postgres: {type: postgres}\n    api: {image: 'a:1', dependsOn: [pg]}\n",
    );
    let out = devstack(&["validate", file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "spec.services.api.dependsOn[0]: unknown service \"pg\" (did you mean \"postgres\"?)"
        ),
        "{stderr}"
    );
}

#[test]
fn malformed_yaml_exits_2_and_never_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    for body in [
        "  services: [1, 2",
        "  services:\n    api: {image: 'a:1', dependOn: [db]}\n",
        "  services: 7\n",
    ] {
        let file = write_stack(dir.path(), body);
        let out = devstack(&["validate", file.to_str().expect("utf8")]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}: {stderr}");
        assert!(!stderr.contains("panicked"));
        // The file, then the parser's message, once.
        let parse_error = devstack_core::parse::parse_devstack(
            &std::fs::read_to_string(&file).expect("read back"),
        )
        .expect_err("malformed");
        assert_eq!(
            stderr,
            format!(
                "error: {}: {}\n",
                file.display(),
                devstack_core::error::chain(&parse_error)
            )
        );
    }
}

#[test]
fn missing_file_exits_1() {
    let out = devstack(&["validate", "/nonexistent/stack.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot read /nonexistent/stack.yaml: "),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("os error 2").count(),
        1,
        "the cause is printed once: {stderr}"
    );
}

#[test]
fn a_malformed_secrets_file_is_invalid_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join(".env");
    std::fs::write(&env, "DEVSTACK_POSTGRES_PASSWORD=x\nnot a key value line\n").expect("write");
    let out = devstack(&[
        "render",
        "k8s",
        "examples/minimal.yaml",
        "--include-secrets",
        "--env-file",
        env.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(":2: expected KEY=VALUE"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_image_override_exits_2() {
    let out = devstack(&[
        "validate",
        "examples/minimal.yaml",
        "--image-override",
        "postgres",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected TYPE=IMAGE"));
    let out = devstack(&[
        "validate",
        "examples/minimal.yaml",
        "--image-override",
        "postgress=x:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean \"postgres\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn render_compose_writes_a_private_env_file_and_reuses_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("out/compose.yaml");
    let target_str = target.to_str().expect("utf8");
    let out = devstack(&[
        "render",
        "compose",
        "examples/soma-shared-infra.yaml",
        "-o",
        target_str,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let env_path = dir.path().join("out/.env");
    let mode = std::fs::metadata(&env_path)
        .expect(".env")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let first = std::fs::read_to_string(&env_path).expect("read");
    let password = first
        .lines()
        .find_map(|l| l.strip_prefix("DEVSTACK_POSTGRES_PASSWORD="))
        .expect("postgres password generated")
        .to_string();
    assert_eq!(password.len(), 32);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    let compose = std::fs::read_to_string(&target).expect("compose");
    assert!(
        !compose.contains(&password),
        "a secret leaked into the compose file"
    );
    // A second render keeps every secret and anything the user added.
    std::fs::write(&env_path, format!("{first}MY_OWN=1\n")).expect("append");
    let out = devstack(&[
        "render",
        "compose",
        "examples/soma-shared-infra.yaml",
        "-o",
        target_str,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let second = std::fs::read_to_string(&env_path).expect("read");
    assert!(second.contains(&format!("DEVSTACK_POSTGRES_PASSWORD={password}")));
    assert!(second.contains("MY_OWN=1"));
    assert!(
        text(&out.stderr).contains("0 generated"),
        "{}",
        text(&out.stderr)
    );
    let mode = std::fs::metadata(&env_path)
        .expect(".env")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn render_k8s_leaves_secrets_out_unless_asked() {
    let out = devstack(&["render", "k8s", "examples/minimal.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stream = text(&out.stdout);
    assert!(stream.contains("kind: StatefulSet"));
    assert!(!stream.contains("kind: Secret"));
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join(".env");
    let out = devstack(&[
        "render",
        "k8s",
        "examples/minimal.yaml",
        "--include-secrets",
        "--env-file",
        env.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stream = text(&out.stdout);
    assert!(stream.contains("kind: Secret"));
    let written = std::fs::read_to_string(&env).expect("env file written");
    let password = written
        .lines()
        .find_map(|l| l.strip_prefix("DEVSTACK_POSTGRES_PASSWORD="))
        .expect("password");
    assert!(
        stream.contains(password),
        "the Secret carries the env file's value"
    );
}

#[test]
fn catalog_json_is_one_object_per_type() {
    let out = devstack(&["catalog", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json array");
    let types: Vec<&str> = rows.iter().filter_map(|r| r["type"].as_str()).collect();
    for wanted in [
        "postgres",
        "pgvector",
        "timescaledb",
        "redis",
        "valkey",
        "qdrant",
        "weaviate",
        "chroma",
        "minio",
        "kafka",
        "mongodb",
        "opensearch",
        "neo4j",
        "jaeger",
        "prometheus",
        "grafana",
        "otel-collector",
        "ollama",
        "nats",
        "rabbitmq",
        "clickhouse",
    ] {
        assert!(types.contains(&wanted), "catalog lacks {wanted}: {types:?}");
    }
    let table = text(&devstack(&["catalog"]).stdout);
    assert!(table.starts_with("TYPE"));
    assert_eq!(table.lines().count(), rows.len() + 1);
}

#[test]
fn crd_command_prints_the_committed_crd() {
    let out = devstack(&["crd"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(workspace().join("crds/devstack.dev_devstacks.yaml"))
        .expect("committed CRD");
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn help_has_examples() {
    for args in [
        vec!["--help"],
        vec!["render", "compose", "--help"],
        vec!["parity", "--help"],
        vec!["validate", "--help"],
    ] {
        let out = devstack(&args);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Example"), "{args:?}");
    }
}

#[test]
fn parity_runtime_needs_live() {
    let stack = workspace().join("examples/minimal.yaml");
    let stack = stack.to_str().expect("utf-8 path");
    let out = devstack(&["parity", stack, "--runtime", "kubernetes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--live"),
        "{}",
        text(&out.stderr)
    );
    let out = devstack(&["parity", stack, "--live", "--runtime", "podman"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("kubernetes"),
        "{}",
        text(&out.stderr)
    );
}

/// `parity --live --runtime kubernetes` against an API server that is not there fails as an
/// environment error (exit 1) naming the cause: the CLI builds its TLS client on its own (no
/// crypto provider left to chance by the crates it links), so it never panics.
#[test]
fn live_kubernetes_parity_without_a_cluster_exits_1_without_panicking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .expect("write kubeconfig");
    let out = Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args([
            "parity",
            "examples/minimal.yaml",
            "--live",
            "--runtime",
            "kubernetes",
        ])
        .current_dir(workspace())
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("run devstack");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}
