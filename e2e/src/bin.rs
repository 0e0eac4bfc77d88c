//! The workspace's binaries for tests of this package, which cargo gives only a package's own
//! binaries (`CARGO_BIN_EXE_*`): each is built by cargo on first use, so it is the current
//! source's. Fails the test when the build does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::workspace_root;

/// The `devstack` command line (package `devstack-cli`).
pub fn devstack() -> PathBuf {
    cargo_binary("devstack-cli", "devstack")
}

/// The `devstack-operator` binary (package `devstack-operator`).
pub fn operator() -> PathBuf {
    cargo_binary("devstack-operator", "devstack-operator")
}

/// Binary `bin` of workspace package `package`, built once per test process.
///
/// # Panics
///
/// When cargo cannot build it or does not name the executable.
pub fn cargo_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    let path = build(package, bin);
    built.insert(bin.to_string(), path.clone());
    path
}

fn build(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    // Cargo's per-crate variables of this test (CARGO_MANIFEST_DIR, …) are watched by
    // ring's build script: inherited, they would make this build redo the dependency tree.
    // The settings of the whole run stay (CARGO_INCREMENTAL is part of the profile): the same
    // build as scripts/test.sh's "e2e binaries" phase, found done.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CARGO_")
            && !["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_INCREMENTAL"]
                .contains(&&*key.to_string_lossy())
        {
            build.env_remove(key);
        }
    }
    let out = build
        .current_dir(workspace_root())
        // --workspace --tests: the features the test build resolves (the dev-dependencies'
        // too), so the libraries `cargo test` compiled are reused, not compiled once more with
        // fewer; the test targets are found done (scripts/test.sh built them first).
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--tests",
            "--bin",
            bin,
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run cargo build --bin {bin} ({package}): {e}"));
    assert!(
        out.status.success(),
        "cargo build --bin {bin} ({package}) failed"
    );
    // The compiler-artifact message names the executable wherever the target dir is.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| m.get("executable")?.as_str().map(PathBuf::from))
        .find(|p| p.file_name().is_some_and(|n| n == bin))
        .unwrap_or_else(|| panic!("cargo names no {bin} executable"))
}
