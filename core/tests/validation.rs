//! One test per validation error DESIGN.md lists: each names the field and says how to fix it.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use devstack_core::parse::parse_devstack;
use devstack_core::plan::{plan, PlanOptions};
use devstack_core::test_support::{manifest, plan_yaml, stack_yaml};
use devstack_core::FieldError;

/// Plans a stack whose `spec.services` is `services` (YAML, indented by 4).
fn errors_of(spec: &str) -> Vec<FieldError> {
    errors_with(spec, &PlanOptions::default())
}

fn errors_with(spec: &str, options: &PlanOptions) -> Vec<FieldError> {
    let stack = stack_yaml(&manifest("demo", spec));
    match plan(&stack, options) {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

fn assert_error(errors: &[FieldError], path: &str, needle: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.path == path && e.message.contains(needle)),
        "expected an error at {path} containing {needle:?}, got {errors:#?}"
    );
}

#[test]
fn valid_stack_has_no_errors() {
    let errors = errors_of("  services:\n    postgres: {type: postgres, hostPorts: {postgres: 5433}}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080, hostPort: 8080}]\n      dependsOn: [postgres]\n");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn empty_services() {
    assert_error(
        &errors_of("  services: {}\n"),
        "spec.services",
        "must not be empty",
    );
}

#[test]
fn unknown_dependency_suggests_the_nearest_name() {
    let errors = errors_of(
        "  services:\n    postgres: {type: postgres}\n    api: {image: 'a:1', dependsOn: [pg]}\n",
    );
    assert_error(
        &errors,
        "spec.services.api.dependsOn[0]",
        "unknown service \"pg\" (did you mean \"postgres\"?)",
    );
}

#[test]
fn self_dependency() {
    let errors = errors_of("  services:\n    api: {image: 'a:1', dependsOn: [api]}\n");
    assert_error(
        &errors,
        "spec.services.api.dependsOn[0]",
        "depends on itself",
    );
}

#[test]
fn dependency_cycle() {
    let errors = errors_of("  services:\n    a: {image: 'a:1', dependsOn: [b]}\n    b: {image: 'b:1', dependsOn: [c]}\n    c: {image: 'c:1', dependsOn: [a]}\n");
    assert_error(
        &errors,
        "spec.services.a.dependsOn",
        "dependency cycle a -> b -> c -> a",
    );
}

#[test]
fn duplicate_host_ports() {
    let errors = errors_of("  services:\n    postgres: {type: postgres, hostPorts: {postgres: 5432}}\n    other: {type: postgres, hostPorts: {postgres: 5432}}\n");
    assert_error(
        &errors,
        "spec.services.postgres.hostPorts.postgres",
        "host port 5432 is already used by other",
    );
}

#[test]
fn duplicate_host_ports_in_inactive_profiles_are_fine() {
    let errors = errors_of("  profiles: [core]\n  services:\n    redis: {type: redis, profiles: [core], hostPorts: {redis: 6379}}\n    alt: {type: redis, profiles: [alt], hostPorts: {redis: 6379}}\n");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn unknown_host_port_name() {
    let errors =
        errors_of("  services:\n    postgres: {type: postgres, hostPorts: {postgre: 5432}}\n");
    assert_error(
        &errors,
        "spec.services.postgres.hostPorts.postgre",
        "no port named \"postgre\" (did you mean \"postgres\"?)",
    );
}

#[test]
fn unknown_health_port_name() {
    let errors = errors_of("  services:\n    api:\n      image: 'a:1'\n      ports: [{name: http, containerPort: 80}]\n      healthcheck: {http: {path: /healthz, port: htp}}\n");
    assert_error(
        &errors,
        "spec.services.api.healthcheck.http.port",
        "did you mean \"http\"",
    );
}

#[test]
fn type_and_image_both() {
    let errors = errors_of("  services:\n    pg: {type: postgres, image: 'postgres:18'}\n");
    assert_error(&errors, "spec.services.pg", "exactly one of type");
}

#[test]
fn type_and_image_neither() {
    let errors = errors_of("  services:\n    pg: {profiles: [core]}\n  profiles: [core]\n");
    assert_error(&errors, "spec.services.pg", "exactly one of type");
}

#[test]
fn unknown_type_suggests() {
    let errors = errors_of("  services:\n    db: {type: postgress}\n");
    assert_error(
        &errors,
        "spec.services.db.type",
        "did you mean \"postgres\"",
    );
}

#[test]
fn replicas_on_stateful_service() {
    let errors = errors_of("  services:\n    db: {type: postgres, replicas: 2}\n");
    assert_error(&errors, "spec.services.db.replicas", "stateful");
}

#[test]
fn replicas_with_host_port_fan_out_and_their_port_range_must_be_free() {
    // Replicas with a host port fan out into api-1 (8080) and api-2 (8081); web has 8081.
    let errors = errors_of("  services:\n    api: {image: 'a:1', replicas: 2, ports: [{name: http, containerPort: 80, hostPort: 8080}]}\n    web: {image: 'w:1', ports: [{name: http, containerPort: 80, hostPort: 8081}]}\n");
    assert!(
        errors.iter().any(|e| e.message.contains("8081")),
        "expected a duplicate host port error, got {errors:?}"
    );
}

#[test]
fn quantity_that_does_not_parse() {
    let errors = errors_of("  services:\n    db: {type: postgres, resources: {limits: {memory: lots}}, storage: {size: big}}\n");
    assert_error(
        &errors,
        "spec.services.db.resources.limits.memory",
        "not a Kubernetes quantity",
    );
    assert_error(
        &errors,
        "spec.services.db.storage.size",
        "not a Kubernetes quantity",
    );
}

#[test]
fn request_above_limit() {
    let errors = errors_of("  services:\n    db: {type: postgres, resources: {requests: {cpu: '2'}, limits: {cpu: '1'}}}\n");
    assert_error(
        &errors,
        "spec.services.db.resources.requests.cpu",
        "above the limit",
    );
}

#[test]
fn host_port_out_of_range() {
    let errors = errors_of("  services:\n    db: {type: postgres, hostPorts: {postgres: 70000}}\n    api: {image: 'a:1', ports: [{name: http, containerPort: 80, hostPort: 0}]}\n");
    assert_error(
        &errors,
        "spec.services.db.hostPorts.postgres",
        "outside 1-65535",
    );
    assert_error(
        &errors,
        "spec.services.api.ports[0].hostPort",
        "outside 1-65535",
    );
}

#[test]
fn dependency_not_active_under_profiles() {
    let errors = errors_of("  profiles: [core]\n  services:\n    api: {image: 'a:1', profiles: [core], dependsOn: [search]}\n    search: {type: postgres, profiles: [extra]}\n");
    assert_error(
        &errors,
        "spec.services.api.dependsOn[0]",
        "not active under the selected profiles",
    );
}

#[test]
fn unknown_active_profile() {
    let errors =
        errors_of("  profiles: [cor]\n  services:\n    db: {type: postgres, profiles: [core]}\n");
    assert_error(&errors, "spec.profiles[0]", "did you mean \"core\"");
}

#[test]
fn profile_override_from_the_command_line() {
    let options = PlanOptions {
        profiles: Some(vec!["nope".into()]),
        ..PlanOptions::default()
    };
    let errors = errors_with(
        "  services:\n    db: {type: postgres, profiles: [core]}\n",
        &options,
    );
    assert_error(&errors, "--profile[0]", "no service has profile");
}

#[test]
fn service_name_not_a_dns_label() {
    let errors = errors_of("  services:\n    My_DB: {type: postgres}\n");
    assert_error(&errors, "spec.services.My_DB", "not a DNS label");
}

#[test]
fn generated_secret_cannot_be_overridden() {
    let errors =
        errors_of("  services:\n    db: {type: postgres, env: {POSTGRES_PASSWORD: hunter2}}\n");
    assert_error(
        &errors,
        "spec.services.db.env.POSTGRES_PASSWORD",
        "generated by devstack",
    );
}

#[test]
fn env_key_clash_with_connection_settings() {
    let errors = errors_of("  services:\n    db: {type: postgres}\n    api: {image: 'a:1', dependsOn: [db], env: {DB_URL: 'x'}}\n");
    assert_error(
        &errors,
        "spec.services.api.env.DB_URL",
        "comes from dependsOn \"db\"",
    );
}

#[test]
fn ports_on_a_catalog_service() {
    let errors =
        errors_of("  services:\n    db: {type: postgres, ports: [{name: x, containerPort: 1}]}\n");
    assert_error(
        &errors,
        "spec.services.db.ports",
        "publish them with hostPorts",
    );
}

#[test]
fn duplicate_custom_port_names() {
    let errors = errors_of("  services:\n    api: {image: 'a:1', ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]}\n");
    assert_error(
        &errors,
        "spec.services.api.ports[1].name",
        "duplicate port name",
    );
}

#[test]
fn storage_on_a_custom_image_needs_its_path() {
    let errors = errors_of("  services:\n    api: {image: 'a:1', storage: {size: 1Gi}}\n");
    assert_error(&errors, "spec.services.api.storage", "needs the data path");
}

#[test]
fn missing_stack_name() {
    let stack = parse_devstack("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {}\nspec:\n  services:\n    db: {type: postgres}\n").expect("parses");
    let errors = plan(&stack, &PlanOptions::default())
        .expect_err("invalid")
        .0;
    assert_error(&errors, "metadata.name", "required");
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = errors_of("  services:\n    a: {type: nope}\n    b: {image: 'b:1', dependsOn: [zzz]}\n    c: {type: postgres, hostPorts: {postgres: 0}}\n");
    assert!(errors.len() >= 3, "{errors:#?}");
}

#[test]
fn jvm_heap_follows_the_memory_limit() {
    let plan = plan_yaml(&manifest(
        "demo",
        "services:\n  search: {type: opensearch, resources: {limits: {memory: 4Gi}}}\n",
    ));
    let opts = plan.services["search"]
        .env
        .iter()
        .find(|v| v.key == "OPENSEARCH_JAVA_OPTS")
        .expect("heap set");
    assert_eq!(
        opts.source,
        devstack_core::plan::EnvSource::Template("-Xms2048m -Xmx2048m".into())
    );
}

#[test]
fn kafka_advertises_its_published_external_port_to_host_clients() {
    let plan = plan_yaml(&manifest(
        "demo",
        "services:\n  kafka: {type: kafka, hostPorts: {external: 19092}}\n",
    ));
    let kafka = &plan.services["kafka"];
    let advertised = kafka
        .env
        .iter()
        .find(|v| v.key == "KAFKA_ADVERTISED_LISTENERS")
        .expect("advertised listeners");
    let devstack_core::plan::EnvSource::Template(template) = &advertised.source else {
        panic!("a template expected");
    };
    let rendered = template.render(|_| "kafka".to_string());
    assert!(
        rendered.ends_with(",EXTERNAL://127.0.0.1:19092"),
        "{rendered}"
    );
    assert_eq!(
        kafka.port("external").and_then(|p| p.host_port),
        Some(19092)
    );
}

#[test]
fn image_registry_rewrites_every_image_onto_the_mirror() {
    let plan = plan_yaml(&manifest(
        "demo",
        "imageRegistry: registry.internal:5000/\nservices:\n  db: {type: postgres, version: '17.2'}\n  api: {image: ghcr.io/acme/api:2.3.0}\n  web: {image: nginx:1.27}\n  local: {image: 'localhost:5000/tools/job:1'}\n",
    ));
    let image = |name: &str| plan.services[name].image.as_str();
    assert_eq!(image("db"), "registry.internal:5000/postgres:17.2");
    assert_eq!(image("api"), "registry.internal:5000/acme/api:2.3.0");
    assert_eq!(image("web"), "registry.internal:5000/nginx:1.27");
    assert_eq!(image("local"), "registry.internal:5000/tools/job:1");

    // An --image-override is an exact image: the mirror does not rewrite it.
    let options = PlanOptions {
        image_overrides: [("postgres".to_string(), "local/pg:dev".to_string())].into(),
        ..PlanOptions::default()
    };
    let stack = stack_yaml(&manifest(
        "demo",
        "imageRegistry: registry.internal:5000\nservices:\n  db: {type: postgres}\n",
    ));
    let overridden = devstack_core::plan::plan(&stack, &options).expect("valid");
    assert_eq!(overridden.services["db"].image, "local/pg:dev");
}

#[test]
fn the_registry_mirror_example_pulls_everything_through_the_mirror() {
    let yaml = std::fs::read_to_string(
        devstack_core::test_support::examples_dir().join("registry-mirror.yaml"),
    )
    .expect("examples/registry-mirror.yaml");
    let plan = plan_yaml(&yaml);
    assert!(plan
        .services
        .values()
        .all(|s| s.image.starts_with("registry.internal:5000/")));
}
