use std::path::{Path, PathBuf};

use super::*;
use crate::plan::tests::errors_of;
use crate::plan::{plan as plan_stack, PlanOptions};
use crate::test_support::{manifest, stack_yaml};

fn plan_with(services: &str, options: &PlanOptions) -> crate::plan::StackPlan {
    let services: String = services.lines().map(|l| format!("  {l}\n")).collect();
    let stack = stack_yaml(&manifest("demo", &format!("services:\n{services}")));
    plan_stack(&stack, options).unwrap_or_else(|e| panic!("does not plan: {e}"))
}

fn paths(errors: &ValidationErrors) -> Vec<&str> {
    errors.0.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn build_tags_the_default_repository_with_the_content_tag() {
    let options = PlanOptions {
        base_dir: Some(PathBuf::from("/stacks/app")),
        build_tags: [("api".to_string(), "0123abcd".to_string())].into(),
        ..PlanOptions::default()
    };
    let plan = plan_with(
        "api: {build: {context: ./backend, dockerfile: docker/../Dockerfile.dev, target: dev, args: {PY: '3.12'}}}\n",
        &options,
    );
    let api = &plan.services["api"];
    assert_eq!(api.image, "demo/api:0123abcd");
    let build = api.build.as_ref().expect("a build");
    assert_eq!(build.context, "/stacks/app/backend");
    assert_eq!(build.dockerfile, "Dockerfile.dev");
    assert_eq!(build.target.as_deref(), Some("dev"));
    assert_eq!(
        (build.repository.as_str(), build.tag.as_str()),
        ("demo/api", "0123abcd")
    );
    assert!(build.is_built() && !build.pullable);
}

#[test]
fn without_a_content_tag_the_written_tag_or_unbuilt_is_used() {
    let plan = plan_with(
        "a: {image: 'reg.local:5000/team/a', build: {context: .}}\nb: {image: 'team/b:abc', build: {context: .}}\n",
        &PlanOptions::default(),
    );
    assert_eq!(plan.services["a"].image, "reg.local:5000/team/a:unbuilt");
    assert!(!plan.services["a"].build.as_ref().unwrap().is_built());
    assert_eq!(plan.services["b"].image, "team/b:abc");
    assert_eq!(plan.services["b"].build.as_ref().unwrap().context, ".");
}

#[test]
fn the_registry_mirror_names_the_built_image() {
    let options = PlanOptions {
        build_tags: [("api".to_string(), "t1".to_string())].into(),
        ..PlanOptions::default()
    };
    let services = "api: {image: team/api, build: {context: .}}\n";
    let mut stack = stack_yaml(&manifest("demo", &format!("services:\n  {services}")));
    stack.spec.image_registry = Some("mirror.local".into());
    let plan = plan_stack(&stack, &options).unwrap();
    let api = &plan.services["api"];
    assert_eq!(api.image, "mirror.local/team/api:t1");
    assert_eq!(
        api.build.as_ref().unwrap().repository,
        "mirror.local/team/api"
    );
    assert!(api.build.as_ref().unwrap().pullable);
}

#[test]
fn mounts_and_sync_resolve_against_the_stack_directory() {
    let options = PlanOptions {
        base_dir: Some(PathBuf::from("/stacks/app")),
        ..PlanOptions::default()
    };
    let plan = plan_with(
        "api:\n  image: a:1\n  mounts: [{source: ../docs, target: /mnt/docs, readOnly: true}, {source: /data/models, target: /models}]\n  sync: [{source: ./src, target: /app/src/, ignore: ['*.log'], restart: true}]\n",
        &options,
    );
    let api = &plan.services["api"];
    assert_eq!(
        api.mounts,
        [
            MountPlan {
                source: "/stacks/docs".into(),
                target: "/mnt/docs".into(),
                read_only: true
            },
            MountPlan {
                source: "/data/models".into(),
                target: "/models".into(),
                read_only: false
            },
        ]
    );
    assert_eq!(
        api.sync,
        [SyncPlan {
            source: "/stacks/app/src".into(),
            target: "/app/src".into(),
            ignore: vec![".git".into(), "__pycache__".into(), "*.log".into()],
            restart: true,
        }]
    );
}

#[test]
fn bad_paths_name_the_field_and_the_fix() {
    let errors = errors_of(
        "api:\n  build: {context: '', dockerfile: ../Dockerfile}\n  mounts: [{source: ./d, target: relative/path}, {source: '', target: /}]\n  sync: [{source: ./s, target: /app/../etc}, {source: ./t, target: /data}, {source: ./u, target: /data}]\n",
    );
    assert_eq!(
        paths(&errors),
        [
            "spec.services.api.build.context",
            "spec.services.api.build.dockerfile",
            "spec.services.api.mounts[0].target",
            "spec.services.api.mounts[1].source",
            "spec.services.api.mounts[1].target",
            "spec.services.api.sync[0].target",
            "spec.services.api.sync[2].target",
        ]
    );
    assert!(errors.0[1].message.contains("outside the build context"));
    assert!(errors.0[2].message.contains("absolute"));
    assert!(errors.0[6].message.contains("already the target"));
}

#[test]
fn catalog_services_take_no_build_mounts_or_sync_and_data_paths_are_kept_clear() {
    let errors = errors_of(
        "db: {type: postgres, build: {context: .}, mounts: [{source: ., target: /x}], sync: [{source: ., target: /y}]}\n",
    );
    assert_eq!(
        paths(&errors),
        [
            "spec.services.db.build",
            "spec.services.db.mounts",
            "spec.services.db.sync"
        ]
    );
    let mut targets = vec![("f".to_string(), "/var/lib/postgresql/18".to_string())];
    let mut errors = ValidationErrors::default();
    check_targets(&targets, &["/var/lib/postgresql"], &mut errors);
    targets[0].1 = "/var".into();
    check_targets(&targets, &["/var/lib/postgresql"], &mut errors);
    targets[0].1 = "/var/lib/postgresql-other".into();
    check_targets(&targets, &["/var/lib/postgresql"], &mut errors);
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert!(errors.0[0]
        .message
        .contains("data path /var/lib/postgresql"));
}

#[test]
fn a_digest_or_bad_tag_with_build_is_an_error() {
    let errors = errors_of("a: {image: 'x/a@sha256:00', build: {context: .}}\n");
    assert_eq!(paths(&errors)[0], "spec.services.a.image");
    let stack = stack_yaml(&manifest("demo", "services:\n  a: {build: {context: .}}\n"));
    let options = PlanOptions {
        build_tags: [("a".to_string(), "-bad".to_string())].into(),
        ..PlanOptions::default()
    };
    let errors = plan_stack(&stack, &options).unwrap_err();
    assert_eq!(paths(&errors), ["spec.services.a.image"]);
}

#[test]
fn normalize_folds_dots_without_the_file_system() {
    assert_eq!(normalize(Path::new("/a/./b/../c")), Path::new("/a/c"));
    assert_eq!(normalize(Path::new("/..")), Path::new("/"));
    assert_eq!(normalize(Path::new("../x/..")), Path::new(".."));
    assert_eq!(normalize(Path::new("./")), Path::new(""));
    assert_eq!(split_tag("reg:5000/a"), ("reg:5000/a".to_string(), None));
    assert_eq!(
        split_tag("reg:5000/a:1"),
        ("reg:5000/a".to_string(), Some("1".to_string()))
    );
}
