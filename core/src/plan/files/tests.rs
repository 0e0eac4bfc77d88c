use super::*;
use crate::plan::tests::{errors_of, plan_of};
use crate::plan::PlanOptions;
use crate::test_support::{manifest, stack_yaml};

fn paths(errors: &ValidationErrors) -> Vec<&str> {
    errors.0.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn content_files_are_planned_with_their_mode_and_a_stable_key() {
    let plan = plan_of(
        "api:\n  image: a:1\n  files:\n    /etc/app/config.yaml: {content: \"a: 1\\n\"}\n    /etc/app/secret.key: {content: k, mode: \"0600\"}\n",
    );
    let files = &plan.services["api"].files;
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].path, "/etc/app/config.yaml");
    assert_eq!(files[0].bytes, b"a: 1\n");
    assert_eq!(files[0].mode, 0o644);
    assert_eq!(files[0].origin, FileOrigin::Spec);
    assert_eq!(files[1].mode, 0o600);
    assert_eq!(files[1].mode_octal(), "0600");
    let key = files[0].key();
    assert!(key.starts_with("etc_app_config.yaml-"), "{key}");
    assert_eq!(key.len(), "etc_app_config.yaml-".len() + 8);
    // Paths that read the same still get distinct keys.
    let a = PlannedFile::generated("/a/b", "x", 0o644, "t");
    let b = PlannedFile::generated("/a_b", "x", 0o644, "t");
    assert_ne!(a.key(), b.key());
}

#[test]
fn the_hash_changes_with_bytes_mode_and_path_only() {
    let file = |path: &str, bytes: &str, mode| PlannedFile::generated(path, bytes, mode, "t");
    let base = files_hash(&[file("/a", "x", 0o644), file("/b", "y", 0o644)]);
    assert!(base.is_some());
    assert_eq!(files_hash(&[]), None);
    let reordered = files_hash(&[file("/b", "y", 0o644), file("/a", "x", 0o644)]);
    assert_eq!(base, reordered);
    for changed in [
        [file("/a", "x2", 0o644), file("/b", "y", 0o644)],
        [file("/a", "x", 0o600), file("/b", "y", 0o644)],
        [file("/c", "x", 0o644), file("/b", "y", 0o644)],
    ] {
        assert_ne!(base, files_hash(&changed));
    }
}

#[test]
fn bad_paths_modes_and_shapes_name_the_field() {
    let errors = errors_of(concat!(
        "api:\n  image: a:1\n  files:\n",
        "    etc/x: {content: a}\n",
        "    /etc/dir/: {content: a}\n",
        "    /etc/../x: {content: a}\n",
        "    /etc/m: {content: a, mode: \"0999\"}\n",
        "    /etc/n: {content: a, mode: 420}\n",
        "    /etc/both: {content: a, source: b}\n",
        "    /etc/f: {content: a}\n",
        "    /etc/f/g: {content: a}\n",
    ));
    assert_eq!(
        paths(&errors),
        [
            "spec.services.api.files./etc/both",
            "spec.services.api.files./etc/m.mode",
            "spec.services.api.files./etc/n.mode",
            "spec.services.api.files./etc/../x",
            "spec.services.api.files./etc/dir/",
            "spec.services.api.files./etc/f/g",
            "spec.services.api.files.etc/x",
        ],
        "{errors}"
    );
    assert!(errors.0[6].message.contains("start it with /"));
    assert!(errors.0[2].message.contains("420 would not mean 0644"));
}

#[test]
fn a_file_under_a_data_path_or_on_a_catalog_file_is_an_error() {
    let errors = errors_of(concat!(
        "db:\n  type: pgvector\n  files:\n",
        "    /var/lib/postgresql/x.sql: {content: a}\n",
        "    /docker-entrypoint-initdb.d/00-devstack-vector.sql: {content: a}\n",
    ));
    assert_eq!(
        paths(&errors),
        [
            "spec.services.db.files./docker-entrypoint-initdb.d/00-devstack-vector.sql",
            "spec.services.db.files./var/lib/postgresql/x.sql",
        ],
        "{errors}"
    );
    assert!(errors.0[1]
        .message
        .contains("persisted path /var/lib/postgresql"));
}

#[test]
fn pgvector_creates_its_extension_and_postgres_takes_init_sql() {
    let plan = plan_of(concat!(
        "vec: {type: pgvector}\n",
        "db:\n  type: postgres\n  files:\n    /docker-entrypoint-initdb.d/10-schema.sql: {content: 'CREATE TABLE t (id int);'}\n",
    ));
    let vec = &plan.services["vec"].files;
    assert_eq!(vec.len(), 1);
    assert_eq!(vec[0].origin, FileOrigin::Catalog);
    assert!(vec[0]
        .text()
        .unwrap()
        .contains("CREATE EXTENSION IF NOT EXISTS vector;"));
    let db = &plan.services["db"].files;
    assert_eq!(db[0].path, "/docker-entrypoint-initdb.d/10-schema.sql");
    assert!(plan.services["db"].files_hash().is_some());
}

#[test]
fn too_many_bytes_for_one_config_map_is_an_error() {
    let big = "x".repeat(MAX_FILES_BYTES / 2 + 1);
    let errors = errors_of(&format!(
        "api:\n  image: a:1\n  files:\n    /a: {{content: {big}}}\n    /b: {{content: {big}}}\n"
    ));
    assert_eq!(paths(&errors), ["spec.services.api.files"]);
    assert!(errors.0[0].message.contains("1 MiB"), "{errors}");
}

#[test]
fn sources_come_from_the_cli_and_are_errors_without_it() {
    let stack = stack_yaml(&manifest(
        "demo",
        "services:\n  api:\n    image: a:1\n    files:\n      /etc/a: {source: ./a.conf}\n      /etc/b: {source: ./missing}\n",
    ));
    assert_eq!(
        sources(&stack).into_iter().collect::<Vec<_>>(),
        ["./a.conf", "./missing"]
    );
    let errors = crate::plan::plan(&stack, &PlanOptions::default()).unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "spec.services.api.files./etc/a.source",
            "spec.services.api.files./etc/b.source"
        ]
    );
    assert!(
        errors.0[0].message.contains("use content")
            || errors.0[0].message.contains("content instead")
    );
    let options = PlanOptions {
        file_sources: Some(
            [
                ("./a.conf".to_string(), Ok(vec![0xff, 0x00, b'a'])),
                (
                    "./missing".to_string(),
                    Err("No such file or directory".to_string()),
                ),
            ]
            .into(),
        ),
        ..PlanOptions::default()
    };
    let errors = crate::plan::plan(&stack, &options).unwrap_err();
    assert_eq!(paths(&errors), ["spec.services.api.files./etc/b.source"]);
    assert!(errors.0[0].message.contains("No such file"));
    let options = PlanOptions {
        file_sources: Some(
            [
                ("./a.conf".to_string(), Ok(vec![0xff, 0x00, b'a'])),
                ("./missing".to_string(), Ok(Vec::new())),
            ]
            .into(),
        ),
        ..PlanOptions::default()
    };
    let plan = crate::plan::plan(&stack, &options).unwrap();
    let a = &plan.services["api"].files[0];
    assert_eq!(a.bytes, [0xff, 0x00, b'a']);
    assert_eq!(a.text(), None);
}
