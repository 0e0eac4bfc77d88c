//! Parity on small stacks: identical renderings pass, every kind of drift is caught, and the
//! documented differences are reported as such.

use devstack_core::test_support::plan_yaml;

use super::*;

const STACK: &str = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: demo, namespace: team}\nspec:\n  services:\n    db: {type: postgres, hostPorts: {postgres: 5433}}\n    cache: {type: redis}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080, hostPort: 8080}]\n      dependsOn: [db, cache]\n      healthcheck: {http: {path: /healthz, port: http}, startPeriodSeconds: 25}\n";

/// A stack rendered both ways with secret markers, and both readings.
struct Readings {
    plan: StackPlan,
    kube: Normalized,
    docker: Normalized,
    compose_yaml: String,
    env_file: String,
}

fn readings_of(stack: &str) -> Readings {
    let plan = plan_yaml(stack);
    let markers = secret_markers(&plan);
    let objects = devstack_render_k8s::render(&plan, Some(&markers)).expect("k8s");
    let stream = devstack_render_k8s::to_yaml_stream(&objects).expect("yaml");
    let compose_yaml = devstack_render_compose::render(&plan).expect("compose");
    let env_file = devstack_render_compose::env_file(&plan, &markers).expect("env");
    Readings {
        kube: k8s::read_back(&stream, &plan).expect("read k8s"),
        docker: compose::read_back(&compose_yaml, &env_file).expect("read compose"),
        plan,
        compose_yaml,
        env_file,
    }
}

fn verdict<'a>(report: &'a Report, service: &str, aspect: &str) -> &'a Verdict {
    &report
        .rows
        .iter()
        .find(|r| r.service == service && r.aspect == aspect)
        .expect("row")
        .verdict
}

fn compare_plain(r: &Readings, docker: &Normalized) -> Report {
    compare(&r.plan.name, &r.kube, docker, &BTreeSet::new())
}

#[test]
fn identical_renderings_have_no_mismatch() {
    let r = readings_of(STACK);
    let report = compare_plain(&r, &r.docker);
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    assert!(
        matches!(verdict(&report, "api", "env"), Verdict::ByDesign(_)),
        "api's URLs name hosts"
    );
    assert_eq!(
        r.kube.services["api"].env["DB_URL"],
        r.docker.services["api"].env["DB_URL"]
    );
    assert!(
        r.kube.services["api"].env["DB_URL"].contains("@@secret:DEVSTACK_DB_PASSWORD@@@db:5432")
    );
    let strict: BTreeSet<(String, String)> = [pair("api", "cache"), pair("api", "db")]
        .into_iter()
        .collect();
    assert_eq!(r.kube.reachability, strict);
}

#[test]
fn a_different_image_is_a_mismatch() {
    let r = readings_of(STACK);
    let tampered = r
        .compose_yaml
        .replace("image: redis:8.4.0", "image: redis:7.2.0");
    assert_ne!(tampered, r.compose_yaml, "the tamper must change the file");
    let docker = compose::read_back(&tampered, &r.env_file).expect("read");
    let report = compare_plain(&r, &docker);
    assert!(matches!(
        verdict(&report, "cache", "image"),
        Verdict::Mismatch(_)
    ));
    assert_eq!(report.mismatches(), 1, "{}", report.table());
}

#[test]
fn health_timing_and_resources_are_compared() {
    let r = readings_of(STACK);
    let mut docker = r.docker.clone();
    docker.services.get_mut("api").expect("api").health_timing = Some([10, 3, 5, 40]);
    docker.services.get_mut("db").expect("db").limits[1] += 1;
    let report = compare_plain(&r, &docker);
    assert!(matches!(
        verdict(&report, "api", "health"),
        Verdict::Mismatch(_)
    ));
    assert!(matches!(
        verdict(&report, "db", "resources"),
        Verdict::Mismatch(_)
    ));
}

#[test]
fn an_open_compose_network_breaks_strict_reachability() {
    let r = readings_of(STACK);
    let mut docker = r.docker.clone();
    docker.reachability.insert(pair("cache", "db"));
    let report = compare_plain(&r, &docker);
    assert!(matches!(
        verdict(&report, "*", "reachability"),
        Verdict::Mismatch(_)
    ));
}

#[test]
fn a_service_missing_on_one_side_is_a_mismatch() {
    let r = readings_of(STACK);
    let mut docker = r.docker.clone();
    docker.services.remove("cache");
    let report = compare_plain(&r, &docker);
    assert!(matches!(
        verdict(&report, "cache", "active"),
        Verdict::Mismatch(_)
    ));
}

#[test]
fn start_grace_rounds_up_to_whole_intervals() {
    assert_eq!(start_grace(25, 10), 30);
    assert_eq!(start_grace(0, 10), 0);
    assert_eq!(start_grace(10, 10), 10);
}

#[test]
fn a_shell_less_image_is_probed_by_kubernetes_only_by_design() {
    let stack = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: obs}\nspec:\n  services:\n    jaeger: {type: jaeger}\n    otel: {type: otel-collector, dependsOn: [jaeger]}\n    app: {image: 'a:1', dependsOn: [otel]}\n";
    let r = readings_of(stack);
    let report = check(&r.plan).expect("parity");
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    assert!(matches!(
        verdict(&report, "otel", "health"),
        Verdict::ByDesign(_)
    ));
    let app = r
        .compose_yaml
        .split("\n  app:\n")
        .nth(1)
        .expect("app service");
    assert!(
        app.contains("otel:\n        condition: service_started"),
        "{app}"
    );
    let otel = r
        .compose_yaml
        .split("\n  otel:\n")
        .nth(1)
        .expect("otel service");
    let otel = otel.split("\n  ").next().unwrap_or_default();
    assert!(!otel.contains("healthcheck"), "{otel}");
}

#[test]
fn dollar_signs_survive_both_renderings() {
    let stack = r#"apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: dollars}
spec:
  services:
    app:
      image: 'a:1'
      command: [sh, -c, 'echo $HOME $(date) $$ $$(x)']
      env: {PRICE: 'cost $5', PID: '$$', SUB: '$(HOME)', BOTH: '$$(HOME)$'}
"#;
    let r = readings_of(stack);
    let app = &r.kube.services["app"];
    assert_eq!(app.env["PRICE"], "cost $5");
    assert_eq!(app.env["PID"], "$$");
    assert_eq!(app.env["SUB"], "$(HOME)");
    assert_eq!(app.env["BOTH"], "$$(HOME)$");
    assert_eq!(
        app.command.as_ref().expect("command")[2],
        "echo $HOME $(date) $$ $$(x)"
    );
    assert_eq!(app.env, r.docker.services["app"].env);
    assert_eq!(app.command, r.docker.services["app"].command);
}

#[test]
fn open_isolation_reaches_everything_in_both_modes() {
    let stack = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: open}\nspec:\n  isolation: open\n  services:\n    db: {type: postgres}\n    cache: {type: redis}\n    api: {image: 'a:1', dependsOn: [db]}\n";
    let r = readings_of(stack);
    let report = check(&r.plan).expect("parity");
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    let everything: BTreeSet<(String, String)> =
        [pair("api", "cache"), pair("api", "db"), pair("cache", "db")]
            .into_iter()
            .collect();
    assert_eq!(r.kube.reachability, everything);
    assert_eq!(r.docker.reachability, everything);
}
