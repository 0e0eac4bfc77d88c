//! Observability wiring, live in both runtimes (issue 20): one DevStack with the local
//! prometheus, jaeger and otel-collector images, a postgres/redis pair, an app (the local
//! `otel-app` image: Python's OpenTelemetry SDK, metrics on :8080) and a service without edges
//! runs on the harness's real node (reconciled by the `devstack-operator` binary) and on the
//! Docker engine (its Compose rendering). Both runtimes are asked the same questions: is every
//! scrape target up (Prometheus's `/api/v1/targets`), is the app's trace in Jaeger (its query
//! API), who reaches whom (strict isolation with the scrape edges), which prometheus.yml runs,
//! which OTEL variables the app sees. The answers are printed side by side with the targets page
//! and the trace, and must agree and be the right ones; live parity must find no mismatch.
//!
//! Grafana cannot be built here (no registry carries it; its license rules out building it from
//! source): its provisioning files are checked as files, rendered both ways, in
//! `grafana_provisioning_is_the_same_bytes_in_both_renderings` (no infrastructure needed).
//!
//! Needs `e2e/cluster.sh up` (real node) and `e2e/docker.sh up` with the images
//! `prometheus jaeger otel-collector postgres redis otel-app`; fails without them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use devstack_core::plan::observability::parse_targets;
use devstack_e2e::compose::{harness_value, render_compose, ComposeProject};

mod node_support;
use node_support::{local_image, tcp, Stack};

/// Differences between the runtimes that are by design (docs/parity.md): a Compose network is
/// symmetric, so a scraped service can open connections to its prometheus in Docker, where the
/// NetworkPolicies admit only prometheus's own connections.
const BY_DESIGN: &[&str] = &["reaches: app -> prometheus:9090"];

/// The scraped services: prometheus (itself), jaeger, the collector (two jobs), the app.
const SCRAPED: &[&str] = &["app", "collector", "jaeger", "prometheus"];

fn stack_yaml(name: &str, namespace: Option<&str>, app: &str, pg: &str) -> String {
    let ns = namespace.map_or(String::new(), |n| format!(", namespace: {n}"));
    format!(
        "apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {{name: {name}{ns}}}
spec:
  isolation: strict
  observability: {{scrapeIntervalSeconds: 5}}
  services:
    prometheus: {{type: prometheus}}
    jaeger: {{type: jaeger}}
    collector: {{type: otel-collector, dependsOn: [jaeger]}}
    db: {{type: postgres}}
    cache: {{type: redis}}
    app:
      image: {app}
      ports: [{{name: http, containerPort: 8080}}]
      metrics: {{port: http}}
      healthcheck: {{tcp: {{port: http}}}}
      dependsOn: [collector, db, cache]
    loner: {{image: {pg}, command: [sleep, infinity]}}
"
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One runtime, asked by shell scripts run in a service's container.
trait Runtime {
    /// (exit 0, stdout) of `sh -c script` in `service`.
    fn sh(&self, service: &str, script: &str) -> (bool, String);
}

impl Runtime for Stack {
    fn sh(&self, service: &str, script: &str) -> (bool, String) {
        let r = self.exec(service, script);
        (r.ok, r.stdout)
    }
}

impl Runtime for ComposeProject {
    fn sh(&self, service: &str, script: &str) -> (bool, String) {
        let (ok, stdout, _) = ComposeProject::sh(self, service, script);
        (ok, stdout)
    }
}

/// Polls `script` in `service` until `done(stdout)` or `limit`; the last stdout.
fn poll(
    rt: &dyn Runtime,
    service: &str,
    script: &str,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (_, out) = rt.sh(service, script);
        if done(&out) || Instant::now() >= deadline {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The answers of one runtime, and the targets page and trace it showed (for the note).
fn ask(rt: &dyn Runtime) -> (BTreeMap<String, String>, String, String) {
    let mut answers = BTreeMap::new();
    let targets = "wget -qO- 'http://127.0.0.1:9090/api/v1/targets?state=active'";
    let page = poll(rt, "prometheus", targets, Duration::from_secs(150), |out| {
        parse_targets(out).is_some_and(|h| {
            SCRAPED
                .iter()
                .all(|s| h.get(*s).is_some_and(|t| t.to_string() == "up"))
        })
    });
    let health = parse_targets(&page).unwrap_or_default();
    for service in SCRAPED {
        let state = health
            .get(*service)
            .map_or("missing".to_string(), ToString::to_string);
        answers.insert(format!("target: {service}"), state);
    }
    let jobs = page.matches("\"scrapePool\"").count();
    answers.insert("targets: active jobs".into(), jobs.to_string());
    let query = "wget -qO- 'http://127.0.0.1:16686/api/traces?service=app&limit=5'";
    let trace = poll(rt, "jaeger", query, Duration::from_secs(120), |out| {
        out.contains("devstack-e2e-span")
    });
    answers.insert(
        "trace: app's span found through jaeger's query API".into(),
        yes_no(trace.contains("devstack-e2e-span")),
    );
    for (from, to, port) in [
        ("prometheus", "app", 8080),
        ("app", "collector", 4318),
        ("app", "prometheus", 9090),
        ("loner", "prometheus", 9090),
        ("loner", "app", 8080),
        ("prometheus", "db", 5432),
        ("prometheus", "cache", 6379),
    ] {
        let (ok, out) = rt.sh(from, &tcp(to, port));
        answers.insert(
            format!("reaches: {from} -> {to}:{port}"),
            yes_no(ok && out.contains("connected")),
        );
    }
    let (_, out) = rt.sh(
        "prometheus",
        "sha256sum /etc/prometheus/prometheus.yml | cut -d' ' -f1",
    );
    answers.insert("prometheus.yml sha256".into(), out.trim().into());
    for key in ["OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        let (_, out) = rt.sh("app", &format!("printenv {key}"));
        answers.insert(format!("app env: {key}"), out.trim().into());
    }
    let (_, out) = rt.sh("app", "printenv OTEL_EXPORTER_OTLP_ENDPOINT");
    answers.insert(
        "app env: OTEL_EXPORTER_OTLP_ENDPOINT names the collector's OTLP/HTTP port".into(),
        yes_no(out.trim().starts_with("http://collector") && out.trim().ends_with(":4318")),
    );
    (answers, page, trace)
}

fn yes_no(ok: bool) -> String {
    if ok { "yes" } else { "no" }.to_string()
}

fn first(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

#[test]
fn targets_up_trace_found_and_isolation_kept_in_both_runtimes() {
    let app = local_image("otel-app");
    let pg = local_image("postgres");
    let name = format!("obs{}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let stack_file = dir.path().join("stack.yaml");
    let stack = Stack::through_operator("observability", &name, |ns| {
        let spec = stack_yaml(&name, Some(ns), &app, &pg);
        std::fs::write(&stack_file, &spec).expect("write stack");
        spec
    });

    // Docker: the compose rendering where `devstack status` and `parity --live` look for it.
    let compose_file = dir.path().join(format!(".devstack/{name}/compose.yaml"));
    let overrides = devstack_e2e::local_image_overrides().expect("local images");
    render_compose(&stack_file, &overrides, &compose_file);
    let docker_host = harness_value("docker.sh", "endpoint", "DOCKER_HOST");
    let project = ComposeProject::new(compose_file, &name);
    let up = project.run(&["up", "-d", "--wait", "--wait-timeout", "180"]);
    assert!(up.status.success(), "compose up --wait: {}", text(&up));

    let (k8s, k8s_page, k8s_trace) = ask(&stack);
    let (compose, compose_page, compose_trace) = ask(&project);
    println!("targets (kubernetes, real node):\n{k8s_page}\n");
    println!("targets (compose, docker):\n{compose_page}\n");
    println!("trace (kubernetes): {}\n", first(&k8s_trace, 800));
    println!("trace (compose): {}\n", first(&compose_trace, 800));

    let mut table = format!(
        "{:<70} {:<22} {:<22} verdict\n",
        "question", "kubernetes (real node)", "compose (docker)"
    );
    let mut mismatches = Vec::new();
    for (question, k) in &k8s {
        let c = compose.get(question).cloned().unwrap_or_default();
        let verdict = if *k == c {
            "same"
        } else if BY_DESIGN.contains(&question.as_str()) {
            "by design"
        } else {
            mismatches.push(question.clone());
            "MISMATCH"
        };
        let (ks, cs) = (first(k, 22), first(&c, 22));
        table.push_str(&format!("{question:<70} {ks:<22} {cs:<22} {verdict}\n"));
    }
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "the runtimes answer differently: {mismatches:?}\n{table}\n{}",
        stack.describe()
    );
    let mut want: Vec<(String, &str)> = SCRAPED
        .iter()
        .map(|s| (format!("target: {s}"), "up"))
        .collect();
    for (q, a) in [
        ("targets: active jobs", "5"),
        ("trace: app's span found through jaeger's query API", "yes"),
        ("reaches: prometheus -> app:8080", "yes"),
        ("reaches: app -> collector:4318", "yes"),
        ("reaches: app -> prometheus:9090", "no"),
        ("reaches: loner -> prometheus:9090", "no"),
        ("reaches: loner -> app:8080", "no"),
        ("reaches: prometheus -> db:5432", "no"),
        ("reaches: prometheus -> cache:6379", "no"),
        ("app env: OTEL_SERVICE_NAME", "app"),
        ("app env: OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "app env: OTEL_EXPORTER_OTLP_ENDPOINT names the collector's OTLP/HTTP port",
            "yes",
        ),
    ] {
        want.push((q.to_string(), a));
    }
    for (q, a) in want {
        assert_eq!(k8s[&q], a, "{q}\n{table}\n{}", stack.operator_log());
    }

    // The operator's status says the same per service (from the API server's service proxy).
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let out = stack
            .kubectl()
            .run(&[
                "get",
                "devstack",
                &name,
                "-n",
                stack.ns(),
                "-o",
                "jsonpath={.status.services.app.metrics}/{.status.services.prometheus.metrics}",
            ])
            .unwrap_or_default();
        if out == "up/up" || Instant::now() >= deadline {
            break out;
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    assert_eq!(status, "up/up", "{}", stack.operator_log());

    // `devstack status` on the Docker side: a METRICS column from the same API.
    let status = Command::new(devstack_e2e::bin::devstack())
        .args(["status", "-o", "json"])
        .arg(&stack_file)
        .args(&overrides)
        .env("DOCKER_HOST", &docker_host)
        .output()
        .expect("run devstack status");
    let rows: serde_json::Value =
        serde_json::from_slice(&status.stdout).unwrap_or_else(|_| panic!("{}", text(&status)));
    let metrics_of = |service: &str| {
        rows.as_array()
            .into_iter()
            .flatten()
            .find(|r| r["service"] == service)
            .and_then(|r| r["metrics"].as_str().map(str::to_string))
    };
    assert_eq!(metrics_of("app").as_deref(), Some("up"), "{rows:#}");
    assert_eq!(metrics_of("db"), None, "{rows:#}");

    // Live parity, each runtime against its own rendering: no mismatch, files included.
    for runtime in ["docker", "kubernetes"] {
        let live = Command::new(devstack_e2e::bin::devstack())
            .args(["parity", "--live", "--runtime", runtime])
            .arg(&stack_file)
            .args(&overrides)
            .env("DOCKER_HOST", &docker_host)
            .env(
                "KUBECONFIG",
                devstack_e2e::kubeconfig_source().expect("kubeconfig"),
            )
            .output()
            .expect("run devstack parity --live");
        let table = String::from_utf8_lossy(&live.stdout);
        println!("{table}");
        assert!(
            live.status.success() && table.contains(" 0 mismatches"),
            "devstack parity --live --runtime {runtime}: {}",
            text(&live)
        );
    }
}

/// Grafana's provisioning files as the two renderings carry them: the ConfigMap's data in
/// Kubernetes, the files beside the compose file in Docker. Same bytes, the right URLs.
#[test]
fn grafana_provisioning_is_the_same_bytes_in_both_renderings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack_file = dir.path().join("stack.yaml");
    std::fs::write(
        &stack_file,
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: graf}\nspec:\n  services:\n    prometheus: {type: prometheus}\n    jaeger: {type: jaeger}\n    grafana: {type: grafana, dependsOn: [prometheus, jaeger]}\n",
    )
    .expect("write stack");
    let k8s = Command::new(devstack_e2e::bin::devstack())
        .args(["render", "k8s"])
        .arg(&stack_file)
        .output()
        .expect("run devstack render k8s");
    assert!(k8s.status.success(), "{}", text(&k8s));
    let docs = devstack_core::yaml::documents(&String::from_utf8_lossy(&k8s.stdout))
        .expect("a YAML stream");
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "grafana-files")
        .unwrap_or_else(|| panic!("no ConfigMap grafana-files in {docs:#?}"));
    let data = config_map["data"].as_object().expect("data");
    assert_eq!(data.len(), 3, "datasources, provider, dashboard");

    let compose_file = dir.path().join("out/compose.yaml");
    let compose = Command::new(devstack_e2e::bin::devstack())
        .args(["render", "compose"])
        .arg(&stack_file)
        .arg("-o")
        .arg(&compose_file)
        .output()
        .expect("run devstack render compose");
    assert!(compose.status.success(), "{}", text(&compose));
    let files = compose_file.parent().unwrap().join("files/grafana");
    for (key, value) in data {
        let on_disk = std::fs::read(files.join(key))
            .unwrap_or_else(|e| panic!("{}: {e}", files.join(key).display()));
        assert_eq!(
            on_disk,
            value.as_str().unwrap().as_bytes(),
            "{key} differs between the renderings"
        );
        println!("{key}: {} bytes, same in both", on_disk.len());
    }
    let datasources = data
        .iter()
        .find(|(k, _)| k.contains("datasources"))
        .and_then(|(_, v)| v.as_str())
        .expect("the datasources file");
    assert!(datasources.contains("url: \"http://prometheus:9090\""));
    assert!(datasources.contains("url: \"http://jaeger:16686\""));
    assert!(Path::new(&files).is_dir());
}
