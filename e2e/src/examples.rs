//! The example stacks as `devstack apply` hands them to a cluster: planned from their files
//! (paths resolved against `examples/`, build images tagged by content) and applied with
//! absolute mount and build paths. An operator only accepts the examples' host `mounts` when
//! it allows [`host_path_prefix`] (`--allow-host-path`, chart value `allowedHostPaths`).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use devstack_cli::commands::build::applied_stack;
use devstack_cli::devloop::plan_file;
use devstack_core::parse::parse_devstack;
use devstack_core::plan::PlanOptions;
use devstack_core::DevStack;

/// `examples/` of the workspace, canonical (mount sources are compared by prefix).
pub fn dir() -> Result<PathBuf> {
    let dir = crate::workspace_root().join("examples");
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

/// The one host path prefix the examples' `mounts` live under: `examples/apps`.
pub fn host_path_prefix() -> Result<PathBuf> {
    Ok(dir()?.join("apps"))
}

/// Every `examples/*.yaml` by file stem, sorted, each as `devstack apply` would apply it.
pub fn applied_all() -> Result<Vec<(String, DevStack)>> {
    let dir = dir()?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|p| p.extension().is_some_and(|x| x == "yaml"));
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((stem, applied(path)?))
        })
        .collect()
}

/// The stack in `path` (an example or any stack file) as `devstack apply` would apply it.
pub fn applied(path: &Path) -> Result<DevStack> {
    let base = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    let plan = plan_file(path, base, PlanOptions::default())
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let stack = parse_devstack(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut stack = applied_stack(stack, &plan);
    // The plan's namespace is the file's own (none in the examples); the caller picks one.
    stack.metadata.namespace = None;
    Ok(stack)
}
