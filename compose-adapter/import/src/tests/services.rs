//! Images, ports, dependencies, health checks, resources, profiles and networks.

use super::*;

#[test]
fn catalog_image_becomes_type_and_version() {
    let i = one(json!({"image": "postgres:16.4", "environment": {"POSTGRES_DB": "app"}}));
    let s = svc(&i, "svc");
    assert_eq!(s.type_.as_deref(), Some("postgres"));
    assert_eq!(s.version.as_deref(), Some("16.4"));
    assert_eq!(s.env["POSTGRES_DB"], "app");
    assert!(i.report.is_empty(), "{:?}", keys(&i));
}

#[test]
fn alpine_postgres_reports_its_other_uid() {
    let i = one(json!({"image": "postgres:16-alpine"}));
    assert_eq!(svc(&i, "svc").type_.as_deref(), Some("postgres"));
    let text = serde_json::to_string(&i.report).unwrap();
    assert!(text.contains("UID 70") && text.contains("999"), "{text}");
    let i = one(json!({"image": "postgres:16.4"}));
    assert!(!serde_json::to_string(&i.report).unwrap().contains("UID 70"));
}

#[test]
fn untagged_catalog_image_is_pinned_and_reported() {
    let i = one(json!({"image": "docker.io/library/redis"}));
    assert_eq!(svc(&i, "svc").type_.as_deref(), Some("redis"));
    assert_eq!(svc(&i, "svc").version, None);
    assert!(has(&i, "svc:image:changed"));
}

#[test]
fn other_images_of_catalog_software_become_the_catalog_type() {
    let i = one(json!({"image": "confluentinc/cp-kafka:7.6.0"}));
    assert_eq!(svc(&i, "svc").type_.as_deref(), Some("kafka"));
    assert_eq!(svc(&i, "svc").version, None);
    assert!(has(&i, "svc:image:changed"));
    let mirror = one(json!({"image": "minio/minio:RELEASE.2025-09-07T16-13-09Z"}));
    assert_eq!(svc(&mirror, "svc").type_.as_deref(), Some("minio"));
    assert_eq!(
        svc(&mirror, "svc").version.as_deref(),
        Some("RELEASE.2025-09-07T16-13-09Z")
    );
}

#[test]
fn a_literal_catalog_password_becomes_the_generated_secret() {
    let i = one(
        json!({"image": "postgres:17", "environment": {"POSTGRES_PASSWORD": "hunter2", "POSTGRES_USER": "app"}}),
    );
    let s = svc(&i, "svc");
    assert!(!s.env.contains_key("POSTGRES_PASSWORD"));
    assert_eq!(s.env["POSTGRES_USER"], "app");
    assert!(has(&i, "svc:environment.POSTGRES_PASSWORD:changed"));
    // The value never reaches the report.
    assert!(!serde_json::to_string(&i.report)
        .unwrap()
        .contains("hunter2"));
}

#[test]
fn catalog_ports_become_host_ports_by_name() {
    let i = one(json!({"image": "postgres:17", "ports": [
        {"target": 5432, "published": "5433", "host_ip": "127.0.0.1", "protocol": "tcp"},
        {"target": 9999, "published": "9999", "protocol": "tcp"}
    ]}));
    let s = svc(&i, "svc");
    assert_eq!(s.host_ports.get("postgres"), Some(&5433));
    assert_eq!(s.host_ports.len(), 1);
    assert!(has(&i, "svc:ports.9999:dropped"));
    assert!(
        !has(&i, "svc:ports.5432:changed"),
        "127.0.0.1 is what devstack does"
    );
}

#[test]
fn unknown_images_become_image_services() {
    let i = one(json!({
        "image": "ghcr.io/acme/api:1.2",
        "entrypoint": ["/bin/api"],
        "command": ["--port", "8080"],
        "ports": [{"target": 8080, "published": "8080", "protocol": "tcp"}],
        "expose": ["9090"]
    }));
    let s = svc(&i, "svc");
    assert_eq!(s.image.as_deref(), Some("ghcr.io/acme/api:1.2"));
    assert_eq!(s.command, Some(vec!["/bin/api".to_string()]));
    assert_eq!(s.args, Some(vec!["--port".to_string(), "8080".to_string()]));
    let ports = s.ports.as_ref().unwrap();
    assert_eq!(ports[0].name, "port-8080");
    assert_eq!(ports[0].host_port, Some(8080));
    assert_eq!(ports[1].container_port, 9090);
    assert_eq!(ports[1].host_port, None);
    // Published on every address: reported, bound to 127.0.0.1.
    assert!(has(&i, "svc:ports.8080:changed"));
}

#[test]
fn well_known_and_repeated_host_ports_move() {
    let i = import_json(json!({"services": {
        "a": {"image": "nginx:1.27", "ports": [{"target": 80, "published": "80", "host_ip": "127.0.0.1"}]},
        "b": {"image": "httpd:2.4", "ports": [{"target": 80, "published": "8080", "host_ip": "127.0.0.1"}]}
    }}));
    let host = |n: &str| svc(&i, n).ports.as_ref().unwrap()[0].host_port;
    assert_eq!(host("a"), Some(8080));
    assert_eq!(host("b"), Some(8081));
    assert_eq!(i.report.about("a", "ports").count(), 1);
    assert_eq!(i.report.about("b", "ports").count(), 1);
}

#[test]
fn udp_ranges_and_random_host_ports_are_reported() {
    let i = one(json!({"image": "coredns/coredns:1.11", "ports": [
        {"target": 53, "published": "1053", "host_ip": "127.0.0.1", "protocol": "udp"},
        {"target": 7000, "published": "7000-7001", "host_ip": "127.0.0.1"},
        {"target": 8000}
    ]}));
    assert!(has(&i, "svc:ports.53:changed"));
    assert!(has(&i, "svc:ports.7000:changed"));
    assert!(has(&i, "svc:ports.8000:changed"));
}

#[test]
fn depends_on_conditions() {
    let i = import_json(json!({"services": {
        "db": {"image": "postgres:17"},
        "cache": {"image": "redis:8.2"},
        "init": {"image": "busybox:1.37"},
        "api": {"image": "acme/api:1", "depends_on": {
            "db": {"condition": "service_healthy", "required": true},
            "cache": {"condition": "service_started", "required": true},
            "init": {"condition": "service_completed_successfully", "required": true}
        }}
    }}));
    assert_eq!(svc(&i, "api").depends_on, vec!["cache", "db", "init"]);
    assert!(!has(&i, "api:depends_on.db:changed"));
    assert!(has(&i, "api:depends_on.cache:changed"));
    assert!(has(&i, "api:depends_on.init:changed"));
}

#[test]
fn healthchecks_map_to_exec_or_exact_http() {
    let i = one(
        json!({"image": "acme/api:1", "ports": [{"target": 8080, "published": "18080", "host_ip": "127.0.0.1"}],
        "healthcheck": {"test": ["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"], "interval": "1m30s", "retries": 4}}),
    );
    let h = svc(&i, "svc").healthcheck.clone().unwrap();
    let http = h.http.unwrap();
    assert_eq!(
        (http.path.as_str(), http.port.as_str()),
        ("/healthz", "port-8080")
    );
    // Compose's defaults written out, the file's values kept.
    assert_eq!(h.interval_seconds, Some(90));
    assert_eq!(h.timeout_seconds, Some(30));
    assert_eq!(h.retries, Some(4));
    assert_eq!(h.start_period_seconds, Some(0));
    assert!(has(&i, "svc:healthcheck.test:changed"));

    let exec = one(
        json!({"image": "acme/api:1", "healthcheck": {"test": ["CMD", "/bin/check", "--deep"]}}),
    );
    let command = exec.stack.spec.services["svc"]
        .healthcheck
        .clone()
        .unwrap()
        .exec
        .unwrap()
        .command;
    assert_eq!(command, vec!["/bin/check", "--deep"]);

    // curl without -f succeeds on a 500: not an http check.
    let loose = one(json!({"image": "acme/api:1", "ports": [{"target": 8080}],
        "healthcheck": {"test": ["CMD-SHELL", "curl http://localhost:8080/ || exit 1"]}}));
    let check = loose.stack.spec.services["svc"]
        .healthcheck
        .clone()
        .unwrap();
    assert_eq!(check.exec.unwrap().command[0..2], ["sh", "-c"]);

    let off = one(json!({"image": "acme/api:1", "healthcheck": {"test": ["NONE"]}}));
    assert!(off.stack.spec.services["svc"].healthcheck.is_none());
}

#[test]
fn go_durations() {
    assert_eq!(health::seconds("1m30s"), Some(90));
    assert_eq!(health::seconds("500ms"), Some(1));
    assert_eq!(health::seconds("2h"), Some(7200));
    assert_eq!(health::seconds("10x"), None);
}

#[test]
fn deploy_resources_gpus_and_replicas() {
    let i = one(
        json!({"image": "acme/worker:1", "deploy": {"replicas": 3, "resources": {
            "limits": {"cpus": 0.5, "memory": "536870912"},
            "reservations": {"cpus": "0.25", "memory": "134217728",
                "devices": [{"capabilities": ["gpu"], "driver": "nvidia", "count": 2}]}
        }}}),
    );
    let s = svc(&i, "svc");
    let r = s.resources.clone().unwrap();
    assert_eq!(r.limits.clone().unwrap().cpu.as_deref(), Some("500m"));
    assert_eq!(r.limits.unwrap().memory.as_deref(), Some("512Mi"));
    assert_eq!(r.requests.unwrap().cpu.as_deref(), Some("250m"));
    assert_eq!(s.gpu, Some(2));
    assert_eq!(s.replicas, Some(3));
    assert!(i.report.is_empty(), "{:?}", keys(&i));

    let partial = one(
        json!({"image": "acme/worker:1", "deploy": {"resources": {"limits": {"memory": "1073741824"}}}}),
    );
    assert!(has(&partial, "svc:deploy.resources:changed"));

    let catalog = one(json!({"image": "redis:8.2", "deploy": {"replicas": 2}}));
    assert_eq!(svc(&catalog, "svc").replicas, None);
    assert!(has(&catalog, "svc:deploy.replicas:dropped"));
}

#[test]
fn profiles_are_kept_and_the_selection_becomes_spec_profiles() {
    let project = json!({"services": {"a": {"image": "acme/a:1", "profiles": ["dev"]}, "b": {"image": "acme/b:1"}}});
    let options = ImportOptions {
        profiles: vec!["dev".into()],
        ..ImportOptions::default()
    };
    let i = import(&project.to_string(), &options).unwrap();
    assert_eq!(i.stack.spec.profiles, vec!["dev"]);
    assert_eq!(i.stack.spec.services["a"].profiles, vec!["dev"]);
    assert!(i.stack.spec.services["b"].profiles.is_empty());
}

#[test]
fn one_network_is_open_isolation() {
    let i = import_json(json!({"services": {
        "a": {"image": "acme/a:1", "networks": {"default": null}},
        "b": {"image": "acme/b:1", "networks": {"default": null}}
    }}));
    assert_eq!(i.stack.spec.isolation, Isolation::Open);
    assert!(i.report.is_empty());
}

#[test]
fn networks_that_follow_depends_on_are_strict() {
    let i = import_json(json!({"services": {
        "web": {"image": "acme/web:1", "networks": {"front": null}, "depends_on": {"api": {"condition": "service_healthy"}}},
        "api": {"image": "acme/api:1", "networks": {"front": null, "back": null}, "depends_on": {"db": {"condition": "service_healthy"}}},
        "db": {"image": "postgres:17", "networks": {"back": null}}
    }}));
    assert_eq!(i.stack.spec.isolation, Isolation::Strict);
}

#[test]
fn other_segmentation_is_open_and_reported() {
    let i = import_json(json!({"services": {
        "a": {"image": "acme/a:1", "networks": {"one": null}},
        "b": {"image": "acme/b:1", "networks": {"one": null}},
        "c": {"image": "acme/c:1", "networks": {"two": null}}
    }}));
    assert_eq!(i.stack.spec.isolation, Isolation::Open);
    assert!(has(&i, "*:networks:changed"));
}
