//! Issue 16's input rules: the CRD's bounds are validation's bounds (one constant each), text
//! that reaches a process, a registry or a URL is checked or encoded, host ports become node
//! ports inside the allowed range, and connection keys have one owner.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use devstack_core::limits;
use devstack_core::plan::{plan, NodePortRange, PlanOptions};
use devstack_core::test_support::{manifest, stack_yaml};
use devstack_core::{FieldError, StackPlan};
use serde_json::Value;

fn errors_with(spec: &str, options: &PlanOptions) -> Vec<FieldError> {
    let stack = stack_yaml(&manifest("demo", spec));
    match plan(&stack, options) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

fn errors_of(spec: &str) -> Vec<FieldError> {
    errors_with(spec, &PlanOptions::default())
}

fn plan_of(spec: &str) -> StackPlan {
    plan(
        &stack_yaml(&manifest("demo", spec)),
        &PlanOptions::default(),
    )
    .unwrap()
}

fn assert_error(errors: &[FieldError], path: &str, needle: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.path == path && e.message.contains(needle)),
        "expected an error at {path} containing {needle:?}, got {errors:#?}"
    );
}

/// The schema of the DevStack CRD's `spec`.
fn spec_schema() -> Value {
    let text = devstack_core::crdgen::crd_yaml().unwrap();
    let crd: Value = devstack_core::yaml::from_str(&text).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

fn number(value: &Value) -> i64 {
    value.as_f64().map(|f| f as i64).or(value.as_i64()).unwrap()
}

#[test]
fn the_crd_bounds_are_the_limits_constants() {
    let spec = spec_schema();
    let service = &spec["properties"]["services"]["additionalProperties"]["properties"];
    let health = &service["healthcheck"]["properties"];
    let cases: [(&Value, i64); 9] = [
        (
            &spec["properties"]["services"]["maxProperties"],
            limits::MAX_SERVICES as i64,
        ),
        (
            &service["hostPorts"]["maxProperties"],
            limits::MAX_HOST_PORTS as i64,
        ),
        (&service["ports"]["maxItems"], limits::MAX_PORTS as i64),
        (
            &service["replicas"]["maximum"],
            i64::from(limits::MAX_REPLICAS),
        ),
        (&service["gpu"]["maximum"], i64::from(limits::MAX_GPU)),
        (
            &health["intervalSeconds"]["maximum"],
            i64::from(limits::MAX_SECONDS),
        ),
        (
            &health["timeoutSeconds"]["maximum"],
            i64::from(limits::MAX_SECONDS),
        ),
        (
            &health["startPeriodSeconds"]["maximum"],
            i64::from(limits::MAX_SECONDS),
        ),
        (
            &health["retries"]["maximum"],
            i64::from(limits::MAX_RETRIES),
        ),
    ];
    for (i, (schema, limit)) in cases.iter().enumerate() {
        assert_eq!(number(schema), *limit, "case {i}");
    }
}

#[test]
fn validation_enforces_each_crd_maximum() {
    let max = |field: &str, value: i64| {
        let spec = format!("  services:\n    api: {{image: 'a:1', {field}: {value}}}\n");
        errors_of(&spec)
    };
    for (field, limit) in [
        ("replicas", i64::from(limits::MAX_REPLICAS)),
        ("gpu", i64::from(limits::MAX_GPU)),
    ] {
        assert!(max(field, limit).is_empty(), "{field}: {limit} is allowed");
        assert_error(
            &max(field, limit + 1),
            &format!("spec.services.api.{field}"),
            "above the maximum",
        );
        assert_error(
            &max(field, i64::from(i32::MAX)),
            &format!("spec.services.api.{field}"),
            "above the maximum",
        );
    }
    for (field, limit) in [
        ("intervalSeconds", limits::MAX_SECONDS),
        ("timeoutSeconds", limits::MAX_SECONDS),
        ("startPeriodSeconds", limits::MAX_SECONDS),
        ("retries", limits::MAX_RETRIES),
    ] {
        let with = |value: i32| {
            errors_of(&format!("  services:\n    api: {{image: 'a:1', ports: [{{name: http, containerPort: 80}}], healthcheck: {{tcp: {{port: http}}, {field}: {value}}}}}\n"))
        };
        assert!(with(limit).is_empty(), "{field}: {limit} is allowed");
        assert_error(
            &with(999_999),
            &format!("spec.services.api.healthcheck.{field}"),
            "above the maximum",
        );
    }
}

#[test]
fn validation_enforces_the_crd_counts() {
    let services: String = (0..=limits::MAX_SERVICES)
        .map(|i| format!("    s{i}: {{image: 'a:1'}}\n"))
        .collect();
    assert_error(
        &errors_of(&format!("  services:\n{services}")),
        "spec.services",
        "at most 64",
    );
    let ports: Vec<String> = (0..=limits::MAX_PORTS)
        .map(|i| format!("{{name: p{i}, containerPort: {}}}", 1000 + i))
        .collect();
    assert_error(
        &errors_of(&format!(
            "  services:\n    api: {{image: 'a:1', ports: [{}]}}\n",
            ports.join(", ")
        )),
        "spec.services.api.ports",
        "at most 32",
    );
    let host_ports: Vec<String> = (0..=limits::MAX_HOST_PORTS)
        .map(|i| format!("p{i}: {}", 20000 + i))
        .collect();
    assert_error(
        &errors_of(&format!(
            "  services:\n    db: {{type: postgres, hostPorts: {{{}}}}}\n",
            host_ports.join(", ")
        )),
        "spec.services.db.hostPorts",
        "at most 16",
    );
}

#[test]
fn references_and_tags_refuse_spaces_newlines_and_substitutions() {
    for bad in ["a b", "a\nb", "$(id)", "`id`", "x;rm"] {
        let spec = format!(
            "  imageRegistry: {bad:?}\n  services:\n    db: {{type: postgres, version: {bad:?}}}\n    api: {{image: {bad:?}}}\n"
        );
        let errors = errors_of(&spec);
        assert_error(&errors, "spec.imageRegistry", "not a registry prefix");
        assert_error(&errors, "spec.services.db.version", "not an image tag");
        assert_error(&errors, "spec.services.api.image", "not an image reference");
        let options = PlanOptions {
            image_overrides: [("postgres".to_string(), bad.to_string())].into(),
            ..PlanOptions::default()
        };
        let errors = errors_with("  services:\n    db: {type: postgres}\n", &options);
        assert_error(&errors, "--image-override", "not an image reference");
    }
    assert!(errors_of("  imageRegistry: registry.local:5000/mirror\n  services:\n    db: {type: postgres, version: '17.2'}\n    api: {image: 'ghcr.io/acme/api@sha256:00ff'}\n").is_empty());
}

#[test]
fn nul_in_env_values_and_arguments_is_refused() {
    let errors =
        errors_of("  services:\n    api: {image: 'a:1', env: {A: \"x\\0y\"}, args: [\"a\\0\"]}\n");
    assert_error(&errors, "spec.services.api.env.A", "NUL");
    assert_error(&errors, "spec.services.api.args[0]", "NUL");
}

#[test]
fn a_cpu_count_beyond_what_docker_holds_is_refused() {
    let errors = errors_of(
        "  services:\n    api: {image: 'a:1', resources: {limits: {cpu: '20000000000'}}}\n",
    );
    assert_error(
        &errors,
        "spec.services.api.resources.limits.cpu",
        "above the maximum",
    );
    assert!(
        errors_of("  services:\n    api: {image: 'a:1', resources: {limits: {cpu: '64'}}}\n")
            .is_empty()
    );
}

#[test]
fn metadata_namespace_must_be_a_dns_label() {
    let text = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: demo, namespace: 'Bad_NS'}\nspec:\n  services:\n    api: {image: 'a:1'}\n";
    let stack = devstack_core::parse::parse_devstack(text).unwrap();
    let errors = plan(&stack, &PlanOptions::default()).unwrap_err().0;
    assert_error(&errors, "metadata.namespace", "not a namespace name");
}

#[test]
fn user_values_in_urls_are_percent_encoded() {
    let plan = plan_of("  services:\n    db: {type: postgres, env: {POSTGRES_USER: 'u:x@attacker.example:5432/db?a='}}\n");
    let url = plan.services["db"].connection["DB_URL"].render(|_| "HOST".to_string());
    assert_eq!(
        url,
        "postgresql://u%3Ax%40attacker.example%3A5432%2Fdb%3Fa%3D:HOST@HOST:5432/u%3Ax%40attacker.example%3A5432%2Fdb%3Fa%3D"
    );
    // The plain settings keep the value as written.
    let user = plan.services["db"].connection["DB_USER"].render(|_| String::new());
    assert_eq!(user, "u:x@attacker.example:5432/db?a=");
}

#[test]
fn host_ports_that_are_well_known_or_control_plane_ports_are_refused() {
    for port in [22, 80, 2379, 6443, 10250, 10257] {
        let errors = errors_of(&format!(
            "  services:\n    api: {{image: 'a:1', ports: [{{name: http, containerPort: 80, hostPort: {port}}}]}}\n"
        ));
        assert_error(
            &errors,
            "spec.services.api.ports[0].hostPort",
            "pick a host port",
        );
    }
}

#[test]
fn host_ports_become_node_ports_inside_the_range() {
    let planned = plan_of("  services:\n    db: {type: postgres, hostPorts: {postgres: 5433}}\n    api: {image: 'a:1', ports: [{name: http, containerPort: 80, hostPort: 31000}]}\n");
    let db = &planned.services["db"].ports[0];
    assert_eq!((db.host_port, db.node_port), (Some(5433), Some(30345)));
    let api = &planned.services["api"].ports[0];
    assert_eq!((api.host_port, api.node_port), (Some(31000), Some(31000)));
    // A configured range moves them.
    let options = PlanOptions {
        node_ports: "40000-40999".parse().unwrap(),
        ..PlanOptions::default()
    };
    let stack = stack_yaml(&manifest(
        "demo",
        "  services:\n    db: {type: postgres, hostPorts: {postgres: 5433}}\n",
    ));
    let planned = plan(&stack, &options).unwrap();
    let node = planned.services["db"].ports[0].node_port.unwrap();
    assert_eq!(node, options.node_ports.node_port(5433));
    assert!((40000..=40999).contains(&node));
    assert_eq!(NodePortRange::default().to_string(), "30000-32767");
}

#[test]
fn two_host_ports_on_one_node_port_are_an_error_naming_both() {
    // 5432 and 5432 + 2768 land on the same node port in 30000-32767.
    let errors = errors_of("  services:\n    db: {type: postgres, hostPorts: {postgres: 5432}}\n    api: {image: 'a:1', ports: [{name: http, containerPort: 80, hostPort: 8200}]}\n");
    assert_error(
        &errors,
        "spec.services.db.hostPorts.postgres",
        "as host port 8200 of api (http) does",
    );
}

#[test]
fn colliding_connection_keys_name_both_services() {
    let errors = errors_of(
        "  services:\n    ch: {type: clickhouse}\n    ch-http: {type: postgres}\n    app: {image: 'a:1', dependsOn: [ch]}\n",
    );
    assert_error(&errors, "spec.services.ch-http", "CH_HTTP_URL");
    assert_error(&errors, "spec.services.ch-http", "\"ch\" and \"ch-http\"");
}

#[test]
fn no_catalog_service_puts_a_secret_on_its_command_line() {
    for type_name in devstack_core::catalog::type_names() {
        let planned = plan_of(&format!("  services:\n    svc: {{type: {type_name}}}\n"));
        let service = &planned.services["svc"];
        let words = service.command.iter().chain(service.args.iter()).flatten();
        for word in words {
            assert_eq!(
                word.secrets().count(),
                0,
                "{type_name}: a secret on the command line: {word:?}"
            );
        }
    }
}
