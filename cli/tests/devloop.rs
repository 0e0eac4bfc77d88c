//! `build`, `mounts` and `sync` at the CLI edge: paths resolve against the stack file's
//! directory wherever the command runs, missing paths are invalid input naming the field, and
//! the build's content tag names the image in both renderings.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::path::Path;
use std::process::{Command, Output};

use devstack_core::test_support as fixtures;

fn devstack(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run devstack")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const STACK: &str = "services:\n  api:\n    build: {context: ./app}\n    mounts: [{source: ./docs, target: /mnt/docs, readOnly: true}]\n    sync: [{source: ./app/src, target: /app/src}]\n";

fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("app/src")).unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(
        dir.join("app/Dockerfile"),
        "FROM scratch\nCOPY src /app/src\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/src/main.py"), "print('v1')\n").unwrap();
    std::fs::write(dir.join("stack.yaml"), fixtures::manifest("demo", STACK)).unwrap();
}

fn compose_image(out: &Output) -> String {
    let yaml = text(&out.stdout);
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("image: demo/api:"))
        .unwrap_or_else(|| panic!("no built image in {yaml}"));
    line.trim().trim_start_matches("image: ").to_string()
}

#[test]
fn paths_resolve_against_the_stack_file_and_the_tag_follows_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    project(&root);
    let elsewhere = tempfile::tempdir().unwrap();
    let file = root.join("stack.yaml");
    let file = file.to_str().unwrap();
    let out = devstack(elsewhere.path(), &["render", "compose", file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(
        yaml.contains(&format!("context: {}/app", root.display())),
        "{yaml}"
    );
    assert!(
        yaml.contains(&format!("source: {}/docs", root.display())),
        "{yaml}"
    );
    let first = compose_image(&out);
    assert_eq!(first.len(), "demo/api:".len() + 16, "{first}");

    let k8s = devstack(elsewhere.path(), &["render", "k8s", file]);
    assert!(text(&k8s.stdout).contains(&format!("image: {first}")));
    assert!(text(&k8s.stdout).contains("imagePullPolicy: Never"));

    std::fs::write(root.join("app/src/main.py"), "print('v2')\n").unwrap();
    let second = compose_image(&devstack(elsewhere.path(), &["render", "compose", file]));
    assert_ne!(first, second, "a changed context is a new tag");
}

#[test]
fn missing_paths_are_invalid_input_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yaml"),
        fixtures::manifest("demo", STACK),
    )
    .unwrap();
    let out = devstack(dir.path(), &["validate", "stack.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for field in [
        "spec.services.api.mounts[0].source",
        "spec.services.api.sync[0].source",
        "spec.services.api.build.context",
    ] {
        assert!(stderr.contains(field), "{field} missing from: {stderr}");
    }
    std::fs::create_dir_all(dir.path().join("app/src")).unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    let out = devstack(dir.path(), &["validate", "stack.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("spec.services.api.build.dockerfile: Dockerfile not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cluster_options_without_the_kubernetes_runtime_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out = devstack(
        dir.path(),
        &[
            "dev",
            "stack.yaml",
            "--load",
            "node",
            "--namespace",
            "team-a",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for wanted in ["--load", "--namespace", "--runtime kubernetes"] {
        assert!(stderr.contains(wanted), "{wanted} missing from: {stderr}");
    }
    let out = devstack(
        dir.path(),
        &["dev", "stack.yaml", "--kind-cluster", "other"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--kind-cluster"));
}
