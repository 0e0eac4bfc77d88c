//! `files` through the CLI: a `source` is read relative to the stack file (whatever the working
//! directory), its bytes reach both renderings, and `render compose -o` writes the files the
//! compose file bind-mounts with their mode; bad files exit 2 naming the field.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use devstack_core::test_support as fixtures;

fn devstack(cwd: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devstack"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run devstack")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const STACK: &str = "services:\n  api:\n    image: ghcr.io/acme/api:1\n    files:\n      /etc/api/config.yaml: {source: conf/api.yaml}\n      /etc/api/token: {content: t0k3n, mode: \"0600\"}\n";

#[test]
fn sources_are_read_beside_the_stack_file_and_reach_both_renderings() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("conf")).unwrap();
    std::fs::write(project.join("conf/api.yaml"), "port: 8080\n").unwrap();
    std::fs::write(
        project.join("stack.yaml"),
        fixtures::manifest("demo", STACK),
    )
    .unwrap();

    // From another directory: the source is still found next to the stack file.
    let k8s = devstack(dir.path(), &["render", "k8s", "project/stack.yaml"]);
    assert_eq!(k8s.status.code(), Some(0), "{}", text(&k8s.stderr));
    let yaml = text(&k8s.stdout);
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("port: 8080"),
        "{yaml}"
    );
    assert!(yaml.contains("subPath: etc_api_config.yaml-"), "{yaml}");
    assert!(yaml.contains("mode: 384"), "0600 is 384: {yaml}");

    let out = dir.path().join("out/compose.yaml");
    let compose = devstack(
        dir.path(),
        &[
            "render",
            "compose",
            "project/stack.yaml",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(compose.status.code(), Some(0), "{}", text(&compose.stderr));
    let files = dir.path().join("out/files/api");
    let mut written: Vec<(String, String, u32)> = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(e.path()).unwrap(), mode)
        })
        .collect();
    written.sort();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(written[0].0.starts_with("etc_api_config.yaml-"));
    assert_eq!(
        (written[0].1.as_str(), written[0].2),
        ("port: 8080\n", 0o644)
    );
    assert_eq!((written[1].1.as_str(), written[1].2), ("t0k3n", 0o600));
    let compose_yaml = std::fs::read_to_string(&out).unwrap();
    assert!(
        compose_yaml.contains(&format!("source: ./files/api/{}", written[0].0)),
        "{compose_yaml}"
    );
}

#[test]
fn bad_files_exit_2_naming_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bad = STACK
        .replace("conf/api.yaml", "conf/missing.yaml")
        .replace("/etc/api/token", "etc/api/token");
    std::fs::write(
        dir.path().join("stack.yaml"),
        fixtures::manifest("demo", &bad),
    )
    .unwrap();
    let out = devstack(dir.path(), &["validate", "stack.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("spec.services.api.files./etc/api/config.yaml.source: cannot read \"conf/missing.yaml\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.services.api.files.etc/api/token: not an absolute container path"),
        "{stderr}"
    );
    // A file too large for a ConfigMap.
    std::fs::write(dir.path().join("big.bin"), vec![b'x'; 1 << 20]).unwrap();
    let big = "services:\n  api:\n    image: a:1\n    files:\n      /big: {source: big.bin}\n";
    std::fs::write(
        dir.path().join("stack.yaml"),
        fixtures::manifest("demo", big),
    )
    .unwrap();
    let out = devstack(dir.path(), &["validate", "stack.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("spec.services.api.files:") && stderr.contains("1 MiB"),
        "{stderr}"
    );
}
