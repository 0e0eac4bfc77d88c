//! `build` → build, bind-mounted directories → mounts / sync, named volumes → storage, and the
//! `--check` comparison of the three.

use super::*;

/// The build contexts and Dockerfiles of the tests.
const SOURCES: [&str; 7] = [
    "/p",
    "/p/Dockerfile",
    "/p/api",
    "/p/api/Dockerfile",
    "/p/api/docker/Dockerfile.dev",
    "/p/db",
    "/p/db/Dockerfile",
];

/// A project in `/p` whose stack file goes to `/p`: `dirs` exist and are directories, and so
/// do the build contexts of [`SOURCES`].
fn in_project(services: Value, dirs: &[&str]) -> Imported {
    let options = ImportOptions {
        base_dir: Some("/p".into()),
        existing: dirs
            .iter()
            .chain(SOURCES.iter())
            .map(|d| d.to_string())
            .collect(),
        directories: dirs
            .iter()
            .chain(SOURCES.iter().filter(|s| !s.contains("Dockerfile")))
            .map(|d| d.to_string())
            .collect(),
        ..ImportOptions::default()
    };
    import_with(json!({"name": "demo", "services": services}), &options)
}

#[test]
fn build_keeps_context_dockerfile_target_and_args_and_reports_the_rest() {
    let i = in_project(
        json!({"api": {"image": "acme/api:1.2", "build": {
            "context": "/p/api", "dockerfile": "docker/Dockerfile.dev", "target": "dev",
            "args": {"PY": "3.12", "N": 2, "UNSET": null},
            "ssh": ["default"], "secrets": [{"source": "npmrc"}], "cache_from": ["acme/api:cache"]}}}),
        &[],
    );
    let api = svc(&i, "api");
    let build = api.build.as_ref().unwrap();
    assert_eq!(build.context, "./api");
    assert_eq!(build.dockerfile.as_deref(), Some("docker/Dockerfile.dev"));
    assert_eq!(build.target.as_deref(), Some("dev"));
    assert_eq!(build.args["PY"], "3.12");
    assert_eq!(build.args["N"], "2");
    assert!(!build.args.contains_key("UNSET"));
    // The image names the repository; devstack tags by content.
    assert_eq!(api.image.as_deref(), Some("acme/api"));
    for key in [
        "api:image:changed",
        "api:build.args.UNSET:dropped",
        "api:build.ssh:dropped",
        "api:build.secrets:dropped",
        "api:build.cache_from:dropped",
    ] {
        assert!(has(&i, key), "{key} not in {:?}", keys(&i));
    }
}

#[test]
fn a_default_dockerfile_and_a_build_only_service() {
    let i = in_project(
        json!({"web": {"build": {"context": "/p", "dockerfile": "Dockerfile"}}}),
        &[],
    );
    let web = svc(&i, "web");
    assert_eq!(web.image, None);
    let build = web.build.as_ref().unwrap();
    assert_eq!(
        (build.context.as_str(), build.dockerfile.as_deref()),
        (".", None)
    );
    assert!(has(&i, "web:image:changed"));
}

#[test]
fn a_built_catalog_image_is_the_teams_own_service() {
    let i = in_project(
        json!({"db": {"image": "postgres:17", "build": {"context": "/p/db"}}}),
        &[],
    );
    let db = svc(&i, "db");
    assert_eq!(db.type_, None);
    assert_eq!(db.image.as_deref(), Some("postgres"));
    assert!(db.build.is_some());
}

#[test]
fn builds_that_cannot_be_carried_are_dropped() {
    let i = in_project(
        json!({
            "remote": {"image": "acme/r:1", "build": {"context": "https://github.com/acme/r.git"}},
            "inline": {"image": "acme/i:1", "build": {"context": "/p", "dockerfile_inline": "FROM alpine"}},
            "outside": {"build": {"context": "/p/api", "dockerfile": "../Dockerfile"}},
            "missing": {"image": "acme/m:1", "build": {"context": "/p/gone"}},
            "nofile": {"image": "acme/n:1", "build": {"context": "/p/api", "dockerfile": "Dockerfile.prod"}}
        }),
        &[],
    );
    for name in ["remote", "inline", "outside", "missing", "nofile"] {
        assert!(svc(&i, name).build.is_none());
        assert!(has(&i, &format!("{name}:build:dropped")), "{name}");
    }
    // Without a build, a build-only service runs the image Compose would have tagged.
    assert_eq!(svc(&i, "outside").image.as_deref(), Some("demo-outside"));
    assert_eq!(svc(&i, "remote").image.as_deref(), Some("acme/r:1"));
}

#[test]
fn binds_inside_the_build_context_sync_and_the_rest_mount() {
    let i = in_project(
        json!({"api": {"build": {"context": "/p/api"}, "volumes": [
            {"type": "bind", "source": "/p/api/src", "target": "/app/src", "bind": {"create_host_path": true}},
            {"type": "bind", "source": "/p/api/config", "target": "/app/config", "read_only": true},
            {"type": "bind", "source": "/p/data", "target": "/app/data"},
            {"type": "bind", "source": "/srv/models", "target": "/models", "read_only": true,
             "bind": {"propagation": "rslave", "selinux": "z"}},
            {"type": "bind", "source": "/p/missing", "target": "/app/missing"},
            {"type": "volume", "target": "/app/src/node_modules"}
        ]}}),
        &["/p/api/src", "/p/api/config", "/p/data", "/srv/models"],
    );
    let api = svc(&i, "api");
    let sync: Vec<(&str, &str)> = api
        .sync
        .iter()
        .map(|s| (s.source.as_str(), s.target.as_str()))
        .collect();
    assert_eq!(sync, vec![("./api/src", "/app/src")]);
    let mounts: Vec<(&str, &str, Option<bool>)> = api
        .mounts
        .iter()
        .map(|m| (m.source.as_str(), m.target.as_str(), m.read_only))
        .collect();
    assert_eq!(
        mounts,
        vec![
            // Read-only source inside the context: a mount, read-only kept.
            ("./api/config", "/app/config", Some(true)),
            ("./data", "/app/data", None),
            // A path outside the project tree stays absolute.
            ("/srv/models", "/models", Some(true)),
        ]
    );
    assert!(has(&i, "api:volumes./models.bind.propagation:dropped"));
    assert!(has(&i, "api:volumes./models.bind.selinux:dropped"));
    assert!(has(&i, "api:volumes./app/missing:dropped"));
    // An anonymous volume under a bind masked the image's files: said so.
    let mask = i
        .report
        .about("api", "volumes./app/src/node_modules")
        .next()
        .unwrap();
    assert!(
        mask.detail.contains("under the bind mount at /app/src"),
        "{}",
        mask.detail
    );
    // create_host_path is Compose's default for short syntax: not a loss.
    assert!(i.report.about("api", "volumes./app/src").next().is_none());
    assert_eq!(i.report.losses.len(), 5, "{:?}", keys(&i));
}

#[test]
fn without_a_build_every_bind_is_a_mount() {
    let i = in_project(
        json!({"web": {"image": "nginx:1", "volumes": [
            {"type": "bind", "source": "/p/site", "target": "/usr/share/nginx/html"}]}}),
        &["/p/site"],
    );
    assert!(svc(&i, "web").sync.is_empty());
    assert_eq!(svc(&i, "web").mounts[0].source, "./site");
}

#[test]
fn named_volumes_become_storage() {
    let i = in_project(
        json!({
            "one": {"image": "acme/one:1", "volumes": [
                {"type": "volume", "source": "one_data", "target": "/var/lib/one", "volume": {"nocopy": true}}]},
            "many": {"image": "acme/many:1", "volumes": [
                {"type": "volume", "source": "models", "target": "/models"},
                {"type": "volume", "source": "cache_dir", "target": "/cache"},
                {"type": "volume", "source": "inner", "target": "/models/inner"},
                {"type": "volume", "target": "/scratch"}]}
        }),
        &[],
    );
    let one = svc(&i, "one").storage.as_ref().unwrap();
    assert_eq!(one.path.as_deref(), Some("/var/lib/one"));
    assert!(has(&i, "one:volumes./var/lib/one.volume.nocopy:dropped"));
    let many = svc(&i, "many").storage.as_ref().unwrap();
    let named: Vec<(&str, &str)> = many
        .volumes
        .iter()
        .map(|v| (v.name.as_str(), v.path.as_str()))
        .collect();
    assert_eq!(named, vec![("models", "/models"), ("cache-dir", "/cache")]);
    // Data paths may not contain each other; an anonymous volume keeps nothing.
    assert!(has(&i, "many:volumes./models/inner:dropped"));
    assert!(has(&i, "many:volumes./scratch:dropped"));
}

#[test]
fn storage_wins_over_replicas_files_and_mounts_it_would_clash_with() {
    let options = ImportOptions {
        base_dir: Some("/p".into()),
        regular_files: ["/p/app.conf".to_string()].into(),
        existing: ["/p/app.conf".to_string(), "/p/seed".to_string()].into(),
        directories: ["/p/seed".to_string()].into(),
        ..ImportOptions::default()
    };
    let i = import_with(
        json!({"name": "demo", "services": {
            "scaled": {"image": "acme/s:1", "deploy": {"replicas": 3}, "volumes": [
                {"type": "volume", "source": "shared", "target": "/data"}]},
            "app": {"image": "acme/a:1", "volumes": [
                {"type": "volume", "source": "state", "target": "/data"},
                {"type": "bind", "source": "/p/app.conf", "target": "/data/app.conf"},
                {"type": "bind", "source": "/p/seed", "target": "/data/seed"}]}
        }}),
        &options,
    );
    assert!(svc(&i, "scaled").storage.is_none());
    assert_eq!(svc(&i, "scaled").replicas, Some(3));
    assert!(has(&i, "scaled:volumes./data:dropped"));
    let app = svc(&i, "app");
    assert_eq!(app.storage.as_ref().unwrap().path.as_deref(), Some("/data"));
    assert!(app.files.is_empty() && app.mounts.is_empty());
    assert!(has(&i, "app:volumes./data/app.conf:dropped"));
    assert!(has(&i, "app:volumes./data/seed:dropped"));
}

#[test]
fn volume_drivers_external_and_shared_volumes_are_reported() {
    let i = import_json(json!({"name": "demo", "services": {
        "a": {"image": "acme/a:1", "volumes": [{"type": "volume", "source": "shared", "target": "/a"}]},
        "b": {"image": "acme/b:1", "volumes": [{"type": "volume", "source": "shared", "target": "/b"},
                                               {"type": "volume", "source": "old", "target": "/old"}]}
    }, "volumes": {
        "shared": {"name": "demo_shared", "driver": "local", "driver_opts": {"type": "nfs"}},
        "old": {"name": "legacy", "external": true}
    }}));
    for key in [
        "*:volumes.shared.driver:dropped",
        "*:volumes.shared.driver_opts:dropped",
        "*:volumes.old.external:dropped",
        "*:volumes.shared:changed",
    ] {
        assert!(has(&i, key), "{key} not in {:?}", keys(&i));
    }
}

#[test]
fn check_compares_build_and_mounts_target_by_target() {
    let project = json!({"name": "demo", "services": {"api": {
        "build": {"context": "/p/api", "dockerfile": "Dockerfile", "args": {"A": "1"}},
        "volumes": [
            {"type": "bind", "source": "/p/api/src", "target": "/app/src"},
            {"type": "volume", "source": "state", "target": "/state"}]}}});
    let i = in_project(project["services"].clone(), &["/p/api/src"]);
    let original = model::parse(&project.to_string()).unwrap();
    let rendered_json = |src: &str, args: Value| {
        json!({"services": {"api": {
            "image": "demo/api:unbuilt",
            "build": {"context": "/p/api", "dockerfile": "Dockerfile", "args": args},
            "volumes": [
                {"type": "volume", "source": "demo-api-data", "target": "/state"},
                {"type": "bind", "source": src, "target": "/app/src"}]}}})
    };
    let verdict = |r: &devstack_parity::Report, a: &str| {
        r.rows
            .iter()
            .find(|row| row.aspect == a)
            .unwrap()
            .verdict
            .clone()
    };
    let same = model::parse(&rendered_json("/p/api/src", json!({"A": "1"})).to_string()).unwrap();
    let report = check::compare(&original, &same, &i);
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    assert_eq!(verdict(&report, "build"), devstack_parity::Verdict::Same);
    assert_eq!(verdict(&report, "volumes"), devstack_parity::Verdict::Same);
    // The image differs by design (the changed image line explains it).
    assert!(matches!(
        verdict(&report, "image"),
        devstack_parity::Verdict::ByDesign(_)
    ));
    // A bind of another source, or other build arguments, are mismatches.
    let other = model::parse(&rendered_json("/elsewhere", json!({"A": "2"})).to_string()).unwrap();
    let report = check::compare(&original, &other, &i);
    assert!(matches!(
        verdict(&report, "build"),
        devstack_parity::Verdict::Mismatch(_)
    ));
    assert!(matches!(
        verdict(&report, "volumes"),
        devstack_parity::Verdict::Mismatch(_)
    ));
}
