//! One test per mapping rule, on projects written as `docker compose config --format json`
//! prints them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

use devstack_core::plan::{plan, PlanOptions};
use devstack_core::types::{Isolation, ServiceSpec};
use serde_json::{json, Value};

use super::*;

fn import_json(project: Value) -> Imported {
    import_with(project, &ImportOptions::default())
}

fn import_with(project: Value, options: &ImportOptions) -> Imported {
    let imported = import(&project.to_string(), options).unwrap();
    // Every import must validate: the stack is usable as written (file sources read as "x").
    let sources = devstack_core::plan::file_sources(&imported.stack)
        .into_iter()
        .map(|s| (s, Ok(b"x".to_vec())))
        .collect();
    let plan_options = PlanOptions {
        file_sources: Some(sources),
        ..PlanOptions::default()
    };
    if let Err(errors) = plan(&imported.stack, &plan_options) {
        panic!("imported stack does not validate:\n{errors}");
    }
    imported
}

fn one(service: Value) -> Imported {
    import_json(json!({"name": "demo", "services": {"svc": service}}))
}

fn svc<'a>(imported: &'a Imported, name: &str) -> &'a ServiceSpec {
    &imported.stack.spec.services[name]
}

fn keys(imported: &Imported) -> Vec<String> {
    imported
        .report
        .losses
        .iter()
        .map(|l| {
            format!(
                "{}:{}:{}",
                l.service.as_deref().unwrap_or("*"),
                l.key,
                l.kind.label()
            )
        })
        .collect()
}

fn has(imported: &Imported, wanted: &str) -> bool {
    keys(imported).iter().any(|k| k == wanted)
}

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

#[test]
fn volumes_configs_secrets_and_build() {
    let options = ImportOptions {
        base_dir: Some("/src/deploy".into()),
        regular_files: ["/src/init.sql".to_string(), "/src/app.conf".to_string()].into(),
        ..ImportOptions::default()
    };
    let i = import_with(
        json!({"name": "shop", "services": {
        "db": {"image": "postgres:17", "volumes": [
            {"type": "volume", "source": "pg", "target": "/var/lib/postgresql/data"},
            {"type": "bind", "source": "/src/init.sql", "target": "/docker-entrypoint-initdb.d/init.sql", "read_only": true},
            {"type": "bind", "source": "/src/initdb", "target": "/docker-entrypoint-initdb.d/more"}
        ]},
        "app": {"build": {"context": "/src/app"}, "volumes": [
            {"type": "volume", "source": "uploads", "target": "/data"},
            {"type": "bind", "source": "/src/app", "target": "/app"}
        ], "configs": [{"source": "cfg", "target": "/etc/app.conf", "mode": 288}, {"source": "inline"}],
           "secrets": [{"source": "key", "target": "/run/secrets/key"}]}
    }, "configs": {"cfg": {"file": "/src/app.conf"}, "inline": {"content": "a=1\n"}}}),
        &options,
    );
    assert!(svc(&i, "db").storage.is_some());
    assert!(has(&i, "db:volumes./var/lib/postgresql/data:changed"));
    // A bind-mounted file becomes a file, its source relative to the stack file.
    let init = &svc(&i, "db").files["/docker-entrypoint-initdb.d/init.sql"];
    assert_eq!(init.source.as_deref(), Some("../init.sql"));
    assert!(has(
        &i,
        "db:volumes./docker-entrypoint-initdb.d/init.sql:changed"
    ));
    // A directory waits for mounts.
    assert!(has(
        &i,
        "db:volumes./docker-entrypoint-initdb.d/more:pending: mounts (issue 19)"
    ));
    // Configs: from a file (mode kept) and inline content (at /<name>).
    let app = svc(&i, "app");
    assert_eq!(
        app.files["/etc/app.conf"].source.as_deref(),
        Some("../app.conf")
    );
    assert_eq!(app.files["/etc/app.conf"].mode.as_deref(), Some("0440"));
    assert_eq!(app.files["/inline"].content.as_deref(), Some("a=1\n"));
    assert_eq!(app.image.as_deref(), Some("shop-app"));
    assert!(has(&i, "app:volumes./data:pending: storage (issue 18)"));
    assert!(has(&i, "app:volumes./app:pending: mounts (issue 19)"));
    assert!(has(&i, "app:secrets.key:changed"));
    assert_eq!(
        app.secrets,
        Some(devstack_core::app::AppSecrets::Names(vec!["KEY".into()]))
    );
    assert!(has(&i, "app:build:pending: build (issue 19)"));
}

#[test]
fn keys_without_devstack_meaning_are_reported_with_advice() {
    let i = one(
        json!({"image": "acme/a:1", "privileged": true, "network_mode": "host",
        "cap_add": ["NET_ADMIN"], "extra_hosts": ["h=1.2.3.4"], "logging": {"driver": "syslog"},
        "x-team": "core", "command": null, "entrypoint": null}),
    );
    for key in [
        "privileged",
        "network_mode",
        "cap_add",
        "extra_hosts",
        "logging",
        "x-team",
    ] {
        let loss = i
            .report
            .about("svc", key)
            .next()
            .unwrap_or_else(|| panic!("{key} not reported"));
        assert_eq!(loss.kind, LossKind::Dropped);
        assert!(!loss.instead.is_empty());
    }
}

#[test]
fn hardening_devstack_applies_anyway_is_not_a_loss() {
    let i = one(
        json!({"image": "acme/a:1", "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"]}),
    );
    assert!(i.report.is_empty(), "{:?}", keys(&i));
    let other = one(
        json!({"image": "acme/a:1", "cap_drop": ["NET_RAW"], "security_opt": ["seccomp:unconfined"]}),
    );
    assert!(has(&other, "svc:cap_drop:dropped"));
    assert!(has(&other, "svc:security_opt:dropped"));
}

#[test]
fn extension_keys_in_raw_files_are_reported() {
    let options = ImportOptions {
        raw_files: vec![
            "x-top: 1\nservices:\n  svc:\n    image: acme/a:1\n    x-owner: team-a\n".into(),
        ],
        ..ImportOptions::default()
    };
    let project = json!({"services": {"svc": {"image": "acme/a:1"}}, "x-top": 1});
    let i = import(&project.to_string(), &options).unwrap();
    assert!(has(&i, "svc:x-owner:dropped"));
    assert!(has(&i, "*:x-top:dropped"));
}

#[test]
fn literal_credentials_become_app_secrets_or_connection_values() {
    let i = import_json(json!({"services": {
        "db": {"image": "postgres:17", "environment": {"POSTGRES_PASSWORD": "example"},
            "secrets": [{"source": "db-password"}]},
        "api": {"image": "acme/api:1", "depends_on": {"db": {"condition": "service_healthy"}},
            "secrets": [{"source": "db-password"}, {"source": "signing-key"}],
            "environment": {
                "JWT_SECRET": "s3cret", "OPENAI_API_KEY": "sk-123", "LOG_LEVEL": "debug",
                "APP_DB_PASS": "example", "DATABASE_URL": "postgres://postgres:example@db:5432/app",
                "discovery.type": "single-node", "UNSET": null}}
    }}));
    let api = svc(&i, "api");
    // A generated app secret replaces a literal one.
    assert!(!api.env.contains_key("JWT_SECRET"));
    assert!(has(&i, "api:environment.JWT_SECRET:changed"));
    // An outside service's key cannot be generated: kept, reported.
    assert_eq!(api.env["OPENAI_API_KEY"], "sk-123");
    assert!(has(&i, "api:environment.OPENAI_API_KEY:changed"));
    assert!(!has(&i, "api:environment.LOG_LEVEL:changed"));
    // The dependency's literal password, alone or in a URL: its connection values.
    assert_eq!(api.connection_env["APP_DB_PASS"], "db.PASSWORD");
    assert_eq!(api.connection_env["DATABASE_URL"], "db.URL");
    // Compose secrets: the one db uses for its password, and a generated one.
    // (its name, DB_PASSWORD, is what dependsOn gives anyway)
    assert!(!api.connection_env.contains_key("DB_PASSWORD"));
    assert!(has(&i, "api:secrets.db-password:changed"));
    let Some(devstack_core::app::AppSecrets::Names(secrets)) = &api.secrets else {
        panic!("no app secrets: {:?}", api.secrets);
    };
    assert_eq!(
        secrets,
        &vec!["JWT_SECRET".to_string(), "SIGNING_KEY".to_string()]
    );
    assert!(has(&i, "db:secrets.db-password:changed"));
    // Names a stack cannot hold, and unset values, are dropped.
    assert!(!api.env.contains_key("discovery.type"));
    assert!(has(&i, "api:environment.discovery.type:dropped"));
    assert!(has(&i, "api:environment.UNSET:dropped"));
    // The file's values never reach the report.
    let text = serde_json::to_string(&i.report).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("sk-123") && !text.contains("example"));
}

#[test]
fn service_names_become_dns_labels_and_references_follow() {
    let i = import_json(json!({"services": {
        "My_DB": {"image": "postgres:17"},
        "web.app": {"image": "acme/web:1", "depends_on": {"My_DB": {"condition": "service_healthy"}}}
    }}));
    assert!(i.stack.spec.services.contains_key("my-db"));
    assert_eq!(svc(&i, "web-app").depends_on, vec!["my-db"]);
    assert!(has(&i, "My_DB:name:changed"));
}

#[test]
fn compose_escapes_are_undone() {
    let i = one(
        json!({"image": "acme/a:1", "command": ["echo", "$$HOME"], "environment": {"PRICE": "5$$"}}),
    );
    assert_eq!(
        svc(&i, "svc").args,
        Some(vec!["echo".to_string(), "$HOME".to_string()])
    );
    assert_eq!(svc(&i, "svc").env["PRICE"], "5$");
}

#[test]
fn an_empty_project_is_an_error() {
    let err = import(
        &json!({"services": {}}).to_string(),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::NoServices));
    assert!(import("not json", &ImportOptions::default()).is_err());
}

#[test]
fn check_explains_differences_from_the_report_and_flags_the_rest() {
    let original = json!({"name": "demo", "services": {
        "db": {"image": "postgres", "environment": {"POSTGRES_PASSWORD": "x"}},
        "api": {"image": "acme/api:1", "environment": {"A": "1"}, "profiles": ["dev"]}
    }});
    let i = import_json(original.clone());
    let original = model::parse(&original.to_string()).unwrap();
    let mut rendered = model::parse(&json!({"services": {
        "db": {"image": "postgres:18.1", "environment": {"POSTGRES_PASSWORD": "@@secret:db.password@@"}},
        "api": {"image": "acme/api:1", "environment": {"A": "1"}, "profiles": ["dev"]}
    }}).to_string()).unwrap();
    let report = check::compare(&original, &rendered, &i);
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    let verdict = |r: &devstack_parity::Report, s: &str, a: &str| {
        r.rows
            .iter()
            .find(|row| row.service == s && row.aspect == a)
            .unwrap()
            .verdict
            .clone()
    };
    assert!(matches!(
        verdict(&report, "db", "env"),
        devstack_parity::Verdict::ByDesign(_)
    ));
    assert!(matches!(
        verdict(&report, "api", "env"),
        devstack_parity::Verdict::Same
    ));
    // An unexplained change is a mismatch.
    rendered
        .services
        .get_mut("api")
        .unwrap()
        .environment
        .insert("A".into(), Some("2".into()));
    let report = check::compare(&original, &rendered, &i);
    assert!(matches!(
        verdict(&report, "api", "env"),
        devstack_parity::Verdict::Mismatch(_)
    ));
}
