//! Issue 16 at the command line: input the CLI refuses with exit 2 and a clear message (too
//! large, not UTF-8, a bad option value, a YAML problem in the user's words), and state files
//! and directories that stay private whatever the umask.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use devstack_core::test_support as fixtures;

const BIN: &str = env!("CARGO_BIN_EXE_devstack");

fn devstack_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run devstack")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_exit(out: &Output, code: i32, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

#[test]
fn a_stack_file_over_the_size_limit_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = fixtures::manifest("demo", "services:\n  api: {image: 'a:1'}\n");
    body.push_str(&format!(
        "# {}\n",
        "x".repeat(devstack_core::limits::MAX_INPUT_BYTES)
    ));
    std::fs::write(dir.path().join("big.yaml"), body).unwrap();
    let out = devstack_in(dir.path(), &["validate", "big.yaml"]);
    assert_exit(&out, 2, &["big.yaml", "larger than 1048576 bytes"]);
    // Standard input is read with the same cap (and not to its end).
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("head -c 2000000 /dev/zero | {BIN} validate -"),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2, &["larger than"]);
}

#[test]
fn a_stack_file_that_is_not_utf8_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = fixtures::manifest("demo", "services:\n  api: {image: 'a:1'}\n").into_bytes();
    bytes.extend_from_slice(b"# \xff\xfe\n");
    std::fs::write(dir.path().join("latin.yaml"), bytes).unwrap();
    let out = devstack_in(dir.path(), &["validate", "latin.yaml"]);
    assert_exit(&out, 2, &["latin.yaml", "not UTF-8"]);
}

#[test]
fn yaml_errors_carry_no_advice_about_the_reader_library() {
    let dir = tempfile::tempdir().unwrap();
    let body = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: demo}\nspec:\n  services:\n    api: {image: 'a:1'}\n    api: {image: 'b:1'}\n";
    std::fs::write(dir.path().join("dup.yaml"), body).unwrap();
    let out = devstack_in(dir.path(), &["validate", "dup.yaml"]);
    assert_exit(&out, 2, &["duplicate"]);
    let stderr = text(&out.stderr);
    for library_word in ["DuplicateKeyPolicy", "Options"] {
        assert!(!stderr.contains(library_word), "{stderr}");
    }
}

#[test]
fn bad_option_values_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let stack = fixtures::manifest("demo", "services:\n  api: {image: 'a:1'}\n");
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    let out = devstack_in(
        dir.path(),
        &["validate", "stack.yaml", "--node-port-range", "1-65535"],
    );
    assert_exit(&out, 2, &["well-known"]);
    let out = devstack_in(
        dir.path(),
        &["validate", "stack.yaml", "--image-override", "redis=a b"],
    );
    assert_exit(&out, 2, &["--image-override", "not an image reference"]);
    let out = devstack_in(
        dir.path(),
        &[
            "parity",
            "stack.yaml",
            "--live",
            "--runtime",
            "kubernetes",
            "--namespace",
            "Not_A_NS",
        ],
    );
    assert_exit(&out, 2, &["--namespace", "not a namespace name"]);
}

#[test]
fn state_files_are_0600_and_new_directories_0700_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let stack = fixtures::manifest(
        "demo",
        "services:\n  db: {type: postgres}\n  gpu: {image: 'a:1', gpu: 1}\n",
    );
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("umask 000 && {BIN} render compose stack.yaml -o .devstack/demo/compose.yaml"),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 0, &[]);
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".devstack"), 0o700);
    assert_eq!(mode(".devstack/demo"), 0o700);
    for file in [
        ".devstack/demo/compose.yaml",
        ".devstack/demo/.env",
        ".devstack/demo/compose.cpu.yaml",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

/// Point 6 of issue 16: the state is found from the stack file's location, not the working
/// directory: `devstack env` from the project root and from a subdirectory give one set of
/// passwords, kept in one `.devstack/` beside the stack file.
#[test]
fn state_is_found_beside_the_stack_file_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let stack = fixtures::manifest("demo", "services:\n  db: {type: postgres}\n");
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    let sub = dir.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let args = ["env", "--show-secrets"];
    let env = dir.path().join(".devstack/demo/.env");
    let from_root = devstack_in(dir.path(), &[args[0], "stack.yaml", args[1]]);
    assert_exit(&from_root, 0, &[]);
    let first = std::fs::read_to_string(&env).unwrap();
    assert!(first.contains("DEVSTACK_DB_PASSWORD="), "{first}");
    let from_sub = devstack_in(&sub, &[args[0], "../../stack.yaml", args[1]]);
    assert_exit(&from_sub, 0, &[]);
    assert_eq!(text(&from_root.stdout), text(&from_sub.stdout));
    assert_eq!(std::fs::read_to_string(&env).unwrap(), first);
    assert!(
        !sub.join(".devstack").exists(),
        "a second state in the subdirectory"
    );
}
