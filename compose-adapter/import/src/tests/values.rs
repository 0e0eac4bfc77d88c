//! Volumes, configs, secrets, credentials, names, escapes and the report.

use super::*;

#[test]
fn volumes_configs_secrets_and_build() {
    let options = ImportOptions {
        base_dir: Some("/src/deploy".into()),
        regular_files: ["/src/init.sql".to_string(), "/src/app.conf".to_string()].into(),
        existing: ["/src/initdb", "/src/app", "/src/app/Dockerfile"]
            .map(String::from)
            .into(),
        directories: ["/src/initdb".to_string(), "/src/app".to_string()].into(),
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
    // A catalog service takes no host mounts: a directory is dropped, with advice.
    assert!(has(
        &i,
        "db:volumes./docker-entrypoint-initdb.d/more:dropped"
    ));
    // Configs: from a file (mode kept) and inline content (at /<name>).
    let app = svc(&i, "app");
    assert_eq!(
        app.files["/etc/app.conf"].source.as_deref(),
        Some("../app.conf")
    );
    assert_eq!(app.files["/etc/app.conf"].mode.as_deref(), Some("0440"));
    assert_eq!(app.files["/inline"].content.as_deref(), Some("a=1\n"));
    // Built by devstack: the default repository, the context relative to the stack file.
    assert_eq!(app.image, None);
    assert!(has(&i, "app:image:changed"));
    assert_eq!(app.build.as_ref().unwrap().context, "../app");
    // The named volume is the service's storage; its own source directory is synced.
    assert_eq!(app.storage.as_ref().unwrap().path.as_deref(), Some("/data"));
    assert_eq!(app.sync.len(), 1);
    assert_eq!(
        (app.sync[0].source.as_str(), app.sync[0].target.as_str()),
        ("../app", "/app")
    );
    assert!(i.report.about("app", "volumes").next().is_none());
    assert!(i.report.about("app", "build").next().is_none());
    assert!(has(&i, "app:secrets.key:changed"));
    assert_eq!(
        app.secrets,
        Some(devstack_core::app::AppSecrets::Names(vec!["KEY".into()]))
    );
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
fn a_password_another_service_holds_too_stays_literal() {
    // wasmedge-mysql-nginx: mariadb is no catalog type, and the backend's URL embeds its
    // password; generating the database's password would break the backend's login.
    let i = import_json(json!({"services": {
        "db": {"image": "mariadb:10.9", "environment": {"MYSQL_ROOT_PASSWORD": "whalehello"}},
        "server": {"image": "acme/server:1", "depends_on": {"db": {"condition": "service_started"}},
            "environment": {"DATABASE_URL": "mysql://root:whalehello@db:3306/mysql"}},
        "other": {"image": "acme/other:1", "environment": {"JWT_SECRET": "only-mine"}}
    }}));
    let db = svc(&i, "db");
    assert_eq!(db.env["MYSQL_ROOT_PASSWORD"], "whalehello");
    assert!(db.secrets.is_none(), "{:?}", db.secrets);
    assert!(has(&i, "db:environment.MYSQL_ROOT_PASSWORD:changed"));
    assert_eq!(
        svc(&i, "server").env["DATABASE_URL"],
        "mysql://root:whalehello@db:3306/mysql"
    );
    // A credential no other service holds is still generated.
    assert!(!svc(&i, "other").env.contains_key("JWT_SECRET"));
    let text = serde_json::to_string(&i.report).unwrap();
    assert!(text.contains("server.environment.DATABASE_URL"), "{text}");
    assert!(!text.contains("whalehello"), "{text}");
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
