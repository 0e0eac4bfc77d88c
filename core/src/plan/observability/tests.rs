use super::*;
use crate::plan::tests::{errors_of, plan_of};
use crate::plan::{EnvSource, StackPlan};
use crate::template::Segment;

/// A stack with the whole trio, a pair of stores and an app that exposes metrics and sends
/// traces through the collector.
pub(crate) const TRIO: &str = "\
prometheus: {type: prometheus}
grafana: {type: grafana, dependsOn: [prometheus, jaeger]}
jaeger: {type: jaeger}
collector: {type: otel-collector, dependsOn: [jaeger]}
db: {type: postgres}
cache: {type: redis}
api:
  image: ghcr.io/acme/api:1
  ports: [{name: http, containerPort: 8080}]
  metrics: {port: http}
  dependsOn: [db, cache, collector]
worker: {image: ghcr.io/acme/worker:1, dependsOn: [jaeger], env: {OTEL_SERVICE_NAME: mine}}
";

fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a GeneratedFile {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no generated file {path}"))
}

fn files_of(plan: &StackPlan, service: &str) -> Vec<GeneratedFile> {
    generated_files(plan, &plan.services[service])
}

#[test]
fn catalog_and_custom_metrics_endpoints_are_resolved() {
    let plan = plan_of(TRIO);
    let jobs = |name: &str| -> Vec<(String, u16, String)> {
        plan.services[name]
            .metrics
            .iter()
            .map(|m| (m.job.clone(), m.port.number, m.path.clone()))
            .collect()
    };
    assert_eq!(jobs("api"), [("api".into(), 8080, "/metrics".into())]);
    assert_eq!(jobs("jaeger"), [("jaeger".into(), 8888, "/metrics".into())]);
    assert_eq!(
        jobs("collector"),
        [
            ("collector".into(), 8888, "/metrics".into()),
            ("collector-exporter".into(), 8889, "/metrics".into())
        ]
    );
    assert!(jobs("db").is_empty() && jobs("cache").is_empty() && jobs("worker").is_empty());
}

#[test]
fn bad_metrics_fields_name_the_field_and_the_fix() {
    let errors = errors_of(
        "a: {image: a:1, ports: [{name: http, containerPort: 80}], metrics: {port: htp}}\n\
         b: {image: b:1, ports: [{name: http, containerPort: 80}], metrics: {port: http, path: 'metrics x'}}\n\
         c: {type: postgres, metrics: {port: postgres}}\n\
         d: {image: d:1, metrics: {port: http}}\n",
    );
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.services.a.metrics.port",
            "spec.services.b.metrics.path",
            "spec.services.c.metrics",
            "spec.services.d.metrics.port"
        ]
    );
    assert!(errors.0[0].message.contains("(http)"));
    assert!(errors.0[3].message.contains("declare ports first"));
}

#[test]
fn the_scrape_interval_is_bounded() {
    let stack = crate::test_support::manifest(
        "demo",
        "observability: {scrapeIntervalSeconds: 0}\nservices:\n  p: {type: prometheus}\n",
    );
    let errors = crate::plan::plan(
        &crate::test_support::stack_yaml(&stack),
        &crate::plan::PlanOptions::default(),
    )
    .unwrap_err();
    assert_eq!(errors.0[0].path, "spec.observability.scrapeIntervalSeconds");
}

#[test]
fn prometheus_may_reach_each_target_on_its_metrics_ports_only() {
    let plan = plan_of(TRIO);
    let edges: Vec<(&str, &str, u16)> = plan
        .observability
        .scrapes
        .iter()
        .map(|e| (e.scraper.as_str(), e.target.as_str(), e.port))
        .collect();
    assert_eq!(
        edges,
        [
            ("prometheus", "api", 8080),
            ("prometheus", "collector", 8888),
            ("prometheus", "collector", 8889),
            ("prometheus", "grafana", 3000),
            ("prometheus", "jaeger", 8888),
        ]
    );
    // No prometheus: nothing is scraped, no edge.
    let plan = plan_of(
        "api: {image: a:1, ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n",
    );
    assert!(plan.observability.scrapes.is_empty());
    // An inactive or stopped target is not scraped.
    let plan = plan_of(
        "p: {type: prometheus}\n\
         a: {image: a:1, profiles: [x], ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n\
         b: {image: b:1, replicas: 0, ports: [{name: http, containerPort: 80}], metrics: {port: http}}\n",
    );
    assert!(plan.observability.scrapes.is_empty());
}

fn env_of<'a>(plan: &'a StackPlan, service: &str, key: &str) -> Option<&'a EnvSource> {
    plan.services[service]
        .env
        .iter()
        .find(|v| v.key == key)
        .map(|v| &v.source)
}

fn text(source: Option<&EnvSource>) -> String {
    let Some(EnvSource::Template(t)) = source else {
        panic!("not a template: {source:?}");
    };
    t.0.iter()
        .map(|s| match s {
            Segment::Lit(l) => l.clone(),
            Segment::Host(h) => format!("<{h}>"),
            Segment::Secret(_) => "<secret>".into(),
        })
        .collect()
}

#[test]
fn dependents_of_a_tracing_sink_get_the_standard_otlp_variables() {
    let plan = plan_of(TRIO);
    // The collector wins over jaeger; the host is a hole each renderer fills.
    assert_eq!(
        text(env_of(&plan, "api", "OTEL_EXPORTER_OTLP_ENDPOINT")),
        "http://<collector>:4318"
    );
    assert_eq!(
        text(env_of(&plan, "api", "OTEL_EXPORTER_OTLP_PROTOCOL")),
        "http/protobuf"
    );
    assert_eq!(text(env_of(&plan, "api", "OTEL_SERVICE_NAME")), "api");
    // A value the service sets itself is kept.
    assert_eq!(text(env_of(&plan, "worker", "OTEL_SERVICE_NAME")), "mine");
    assert_eq!(
        text(env_of(&plan, "worker", "OTEL_EXPORTER_OTLP_ENDPOINT")),
        "http://<jaeger>:4318"
    );
    // Sinks and services without a sink get none.
    for service in ["collector", "jaeger", "db", "prometheus"] {
        assert!(env_of(&plan, service, "OTEL_EXPORTER_OTLP_ENDPOINT").is_none());
    }
    // The env stays ordered: secrets, connections, the rest, each by key.
    let keys: Vec<&str> = plan.services["api"]
        .env
        .iter()
        .map(|v| v.key.as_str())
        .collect();
    let tail = &keys[keys.len() - 3..];
    assert_eq!(
        tail,
        [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_SERVICE_NAME"
        ]
    );
}

#[test]
fn generated_prometheus_config() {
    let plan = plan_of(TRIO);
    let files = files_of(&plan, "prometheus");
    let config = file(&files, prometheus::PATH);
    assert_eq!(config.mode, 0o644);
    let parsed = crate::yaml::documents(&config.content).expect("valid YAML");
    let jobs = parsed[0]["scrape_configs"].as_array().expect("jobs").len();
    assert_eq!(jobs, 6, "api, collector (2), grafana, jaeger, prometheus");
    insta::assert_snapshot!("prometheus_yml", config.content);
}

#[test]
fn the_scrape_interval_is_configurable_and_bounds_the_timeout() {
    let stack = crate::test_support::manifest(
        "demo",
        "observability: {scrapeIntervalSeconds: 5}\nservices:\n  p: {type: prometheus}\n",
    );
    let plan = crate::test_support::plan_yaml(&stack);
    let config = &files_of(&plan, "p")[0].content;
    assert!(config.contains("scrape_interval: 5s\n  scrape_timeout: 5s\n"));
    assert!(config.contains("targets: [\"localhost:9090\"]"));
}

#[test]
fn generated_collector_config() {
    let plan = plan_of(TRIO);
    let files = files_of(&plan, "collector");
    let config = file(&files, collector::PATH);
    crate::yaml::documents(&config.content).expect("valid YAML");
    insta::assert_snapshot!("collector_yaml", config.content);
    // Without a backend, traces go to the debug exporter.
    let plan = plan_of("c: {type: otel-collector}\n");
    let lonely = &files_of(&plan, "c")[0].content;
    assert!(lonely.contains("exporters: [debug]"));
}

#[test]
fn generated_grafana_provisioning() {
    let plan = plan_of(TRIO);
    let files = files_of(&plan, "grafana");
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            grafana::DATASOURCES,
            grafana::PROVIDER,
            "/etc/grafana/provisioning/dashboards/devstack/stack.json"
        ]
    );
    for f in &files {
        crate::yaml::documents(&f.content).expect("valid YAML (JSON is YAML)");
    }
    insta::assert_snapshot!("grafana_datasources", files[0].content);
    insta::assert_snapshot!("grafana_provider", files[1].content);
    insta::assert_snapshot!("grafana_dashboard", files[2].content);
    // No datasource to provision: no files.
    let plan = plan_of("g: {type: grafana}\n");
    assert!(files_of(&plan, "g").is_empty());
    // Only a tracing backend: datasources, no dashboard.
    let plan = plan_of("j: {type: jaeger}\ng: {type: grafana, dependsOn: [j]}\n");
    assert_eq!(files_of(&plan, "g").len(), 1);
}

#[test]
fn other_services_get_no_files_and_the_graph_renders() {
    let plan = plan_of(TRIO);
    for service in ["api", "db", "jaeger", "worker"] {
        assert!(files_of(&plan, service).is_empty());
    }
    insta::assert_snapshot!("graph_dot", graph_dot(&plan));
}

#[test]
fn generated_files_are_placed_in_the_services_files_and_a_spec_file_wins() {
    use crate::plan::FileOrigin;
    let plan = plan_of(TRIO);
    let placed: Vec<(&str, &FileOrigin)> = plan.services["prometheus"]
        .files
        .iter()
        .map(|f| (f.path.as_str(), &f.origin))
        .collect();
    assert_eq!(
        placed,
        [(
            prometheus::PATH,
            &FileOrigin::Generated("devstack observability".into())
        )]
    );
    let generated = &files_of(&plan, "prometheus")[0];
    assert_eq!(
        plan.services["prometheus"].files[0].bytes,
        generated.content.as_bytes()
    );
    assert_eq!(plan.services["grafana"].files.len(), 3);
    assert_eq!(plan.services["collector"].files.len(), 1);
    assert!(plan.services["api"].files.is_empty());
    // The user's own prometheus.yml is kept as written.
    let plan = plan_of(
        "p: {type: prometheus, files: {/etc/prometheus/prometheus.yml: {content: \"mine\"}}}\n",
    );
    let files = &plan.services["p"].files;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].bytes, b"mine");
    assert_eq!(files[0].origin, FileOrigin::Spec);
}

#[test]
fn fanned_out_replicas_are_scraped_one_by_one() {
    let plan = plan_of(
        "p: {type: prometheus}\n\
         api: {image: a:1, replicas: 2, ports: [{name: http, containerPort: 8080, hostPort: 8080}], metrics: {port: http}}\n",
    );
    let edges: Vec<(&str, u16)> = plan
        .observability
        .scrapes
        .iter()
        .map(|e| (e.target.as_str(), e.port))
        .collect();
    assert_eq!(edges, [("api-1", 8080), ("api-2", 8081)]);
    let config = &files_of(&plan, "p")[0].content;
    assert!(config.contains("targets: [\"api-1:8080\"]"), "{config}");
    assert!(config.contains("targets: [\"api-2:8081\"]"), "{config}");
}
