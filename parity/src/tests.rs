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

#[test]
fn an_env_mismatch_names_the_keys_and_never_a_value() {
    let r = readings_of(STACK);
    let mut docker = r.docker.clone();
    let api = docker.services.get_mut("api").expect("api");
    api.env
        .insert("DB_PASSWORD".into(), "hunter2-live-value".into());
    api.env.insert("EXTRA_TOKEN".into(), "tok-3141".into());
    let report = compare_plain(&r, &docker);
    let Verdict::Mismatch(detail) = verdict(&report, "api", "env") else {
        panic!("env must differ: {}", report.table());
    };
    assert!(
        detail.contains("EXTRA_TOKEN") && detail.contains("DB_PASSWORD"),
        "{detail}"
    );
    let table = report.table();
    for value in ["hunter2", "tok-3141", "@@secret:", "postgresql://"] {
        assert!(!table.contains(value), "{value} printed:\n{table}");
    }
}

/// The Kubernetes rendering of `r` without the objects `drop` names, read back.
fn kube_without(r: &Readings, drop: &[&str]) -> Normalized {
    let markers: BTreeMap<String, String> = r
        .plan
        .secrets
        .iter()
        .map(|s| (s.id.to_string(), secret_marker(s.id.as_str())))
        .collect();
    let objects: Vec<_> = devstack_render_k8s::render(&r.plan, Some(&markers))
        .expect("k8s")
        .into_iter()
        .filter(|o| !drop.contains(&o.name()))
        .collect();
    let stream = devstack_render_k8s::to_yaml_stream(&objects).expect("yaml");
    k8s::read_back(&stream, &r.plan).expect("read k8s")
}

#[test]
fn egress_rules_are_part_of_reachability() {
    let r = readings_of(STACK);
    // Without api's egress policy, default-deny keeps api from reaching db and cache.
    let kube = kube_without(&r, &["demo-api-egress"]);
    assert!(kube.reachability.is_empty(), "{:?}", kube.reachability);
    let report = compare(&r.plan.name, &kube, &r.docker, &BTreeSet::new());
    assert!(matches!(
        verdict(&report, "*", "reachability"),
        Verdict::Mismatch(_)
    ));
    // Without the ingress policy of db, only api-cache is left.
    let kube = kube_without(&r, &["demo-db-ingress"]);
    let left: BTreeSet<_> = [pair("api", "cache")].into_iter().collect();
    assert_eq!(kube.reachability, left);
}

#[test]
fn node_ports_read_back_as_the_host_ports_they_were_planned_for() {
    let r = readings_of(STACK);
    assert_eq!(
        r.kube.services["db"].host_ports,
        BTreeMap::from([(5432, 5433)])
    );
    let stream = devstack_render_k8s::to_yaml_stream(
        &devstack_render_k8s::render(
            &r.plan,
            Some(
                &r.plan
                    .secrets
                    .iter()
                    .map(|s| (s.id.to_string(), secret_marker(s.id.as_str())))
                    .collect(),
            ),
        )
        .expect("k8s"),
    )
    .expect("yaml");
    assert!(stream.contains("nodePort: 30345"), "{stream}");
    let moved = stream.replace("nodePort: 30345", "nodePort: 30346");
    let kube = k8s::read_back(&moved, &r.plan).expect("read k8s");
    let report = compare(&r.plan.name, &kube, &r.docker, &BTreeSet::new());
    assert!(matches!(
        verdict(&report, "db", "host-ports"),
        Verdict::Mismatch(_)
    ));
}

#[test]
fn files_are_compared_by_path_mode_and_bytes() {
    let stack = STACK.replace(
        "      dependsOn: [db, cache]\n",
        "      dependsOn: [db, cache]\n      files:\n        /etc/api/config.yaml: {content: \"level: info\\n\", mode: \"0640\"}\n",
    );
    let r = readings_of(&stack);
    let report = compare_plain(&r, &r.docker);
    assert_eq!(verdict(&report, "api", "files"), &Verdict::Same);
    assert_eq!(
        r.kube.services["api"].files,
        BTreeSet::from(["/etc/api/config.yaml".to_string()])
    );
    assert!(r.kube.services["api"].files_hash.is_some());
    // Other bytes on the Kubernetes side: the ConfigMap no longer matches the compose digest.
    let plan = &r.plan;
    let markers = secret_markers(plan);
    let objects = devstack_render_k8s::render(plan, Some(&markers)).expect("k8s");
    let stream = devstack_render_k8s::to_yaml_stream(&objects).expect("yaml");
    for tampered in [
        stream.replace("level: info", "level: debug"),
        stream.replace("mode: 416", "mode: 420"),
    ] {
        assert_ne!(tampered, stream, "the tamper must change the stream");
        let kube = k8s::read_back(&tampered, plan).expect("read k8s");
        let report = compare(&plan.name, &kube, &r.docker, &BTreeSet::new());
        assert!(
            matches!(verdict(&report, "api", "files"), Verdict::Mismatch(_)),
            "{}",
            report.table()
        );
    }
}
