//! The workspace's own binaries (`devstack`, `devstack-operator`) for tests outside their
//! crates: built by cargo on first use, so they are the current source's.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// `cargo build -p PACKAGE --bin BIN` (once per process and binary) and the executable's path.
pub fn workspace_binary(package: &str, bin: &str) -> Result<PathBuf> {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .map_err(|_| anyhow::anyhow!("binary cache poisoned"))?;
    if let Some((_, path)) = built.iter().find(|(b, _)| b == bin) {
        return Ok(path.clone());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    // Cargo's per-crate variables of the calling test (CARGO_MANIFEST_DIR, …) are watched by
    // build scripts: inherited, they would make this build redo the dependency tree.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CARGO_")
            && key != "CARGO_HOME"
            && key != "CARGO_TARGET_DIR"
        {
            build.env_remove(key);
        }
    }
    let out = build
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running cargo build -p {package}"))?;
    if !out.status.success() {
        bail!("cargo build -p {package} --bin {bin} failed");
    }
    // The compiler-artifact message names the executable wherever the target dir is.
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| m.get("executable")?.as_str().map(PathBuf::from))
        .find(|p| p.file_name().is_some_and(|n| n == bin))
        .with_context(|| format!("cargo named no {bin} executable"))?;
    built.push((bin.to_string(), path.clone()));
    Ok(path)
}
