use std::collections::BTreeMap;
use std::fs;

use super::*;

fn plan_for(dir: &Path) -> BuildPlan {
    BuildPlan {
        context: dir.display().to_string(),
        dockerfile: "Dockerfile".to_string(),
        target: None,
        args: BTreeMap::new(),
        repository: "demo/api".to_string(),
        tag: "unbuilt".to_string(),
        pullable: false,
    }
}

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, text).unwrap();
}

fn paths(context: &BuildContext) -> Vec<&str> {
    context.entries().iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn dockerignore_patterns_are_anchored_at_the_context_root() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "Dockerfile", "FROM scratch\n");
    write(
        d,
        ".dockerignore",
        "# comment\nnode_modules\n**/__pycache__\n*.log\n!keep.log\nDockerfile\n",
    );
    write(d, "node_modules/x.js", "x");
    write(d, "src/node_modules/y.js", "y");
    write(d, "src/__pycache__/a.pyc", "a");
    write(d, "__pycache__/b.pyc", "b");
    write(d, "top.log", "t");
    write(d, "keep.log", "k");
    write(d, "src/nested.log", "n");
    write(d, "src/app.py", "print()");
    let context = BuildContext::open(&plan_for(d)).unwrap();
    assert_eq!(
        paths(&context),
        [
            ".dockerignore",
            "Dockerfile",
            "keep.log",
            "src",
            "src/app.py",
            "src/nested.log",
            "src/node_modules",
            "src/node_modules/y.js",
        ]
    );
}

#[test]
fn the_tag_follows_content_and_build_options_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "Dockerfile", "FROM scratch\nCOPY . /app\n");
    write(d, "app.py", "v1");
    write(d, ".dockerignore", "*.tmp\n");
    let build = plan_for(d);
    let tag = |build: &BuildPlan| BuildContext::open(build).unwrap().tag(build).unwrap();
    let first = tag(&build);
    assert_eq!(first.len(), 16);
    assert_eq!(tag(&build), first, "stable");
    write(d, "scratch.tmp", "ignored");
    assert_eq!(tag(&build), first, "an ignored file changes nothing");
    write(d, "app.py", "v2");
    let second = tag(&build);
    assert_ne!(second, first, "content");
    let mut with_arg = build.clone();
    with_arg.args.insert("X".into(), "1".into());
    assert_ne!(tag(&with_arg), second, "args");
    let mut with_target = build.clone();
    with_target.target = Some("dev".into());
    assert_ne!(tag(&with_target), second, "target");
}

#[test]
fn the_tar_is_sorted_and_timeless_and_keeps_exec_bits() {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "Dockerfile", "FROM scratch\n");
    write(d, "bin/run.sh", "#!/bin/sh\n");
    fs::set_permissions(d.join("bin/run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    let context = BuildContext::open(&plan_for(d)).unwrap();
    let bytes = context.tar().unwrap();
    assert_eq!(bytes, context.tar().unwrap());
    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = entry.path().unwrap().display().to_string();
        assert_eq!(header.mtime().unwrap(), 0);
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        seen.push((path, header.mode().unwrap(), text));
    }
    assert_eq!(
        seen,
        [
            (
                "Dockerfile".to_string(),
                0o644,
                "FROM scratch\n".to_string()
            ),
            ("bin".to_string(), 0o755, String::new()),
            ("bin/run.sh".to_string(), 0o755, "#!/bin/sh\n".to_string()),
        ]
    );
}

#[test]
fn a_missing_context_or_dockerfile_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut build = plan_for(&dir.path().join("nope"));
    let err = BuildContext::open(&build).unwrap_err();
    assert_eq!(err.field(), "context");
    build.context = dir.path().display().to_string();
    let err = BuildContext::open(&build).unwrap_err();
    assert_eq!(err.field(), "dockerfile");
    assert!(err.to_string().contains("set build.dockerfile"), "{err}");
}

#[test]
fn anchoring_keeps_negation_and_drops_comments() {
    assert_eq!(anchored("  # c"), None);
    assert_eq!(anchored("!./a/b"), Some("!/a/b".to_string()));
    assert_eq!(anchored("/x"), Some("/x".to_string()));
    assert_eq!(anchored("**/y"), Some("/**/y".to_string()));
}
