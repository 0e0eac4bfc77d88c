//! A stack's local state on the Docker side: `.devstack/<stack>/compose.yaml` and the
//! secrets file `.env` beside it (files 0600, directories devstack creates 0700, whatever the
//! umask). `render compose -o` and `devstack up` write the
//! same two files the same way, so `devstack up` and `docker compose up` on the rendered file
//! share credentials (and, through the project name, containers and volumes).

use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use devstack_crds::plan::StackPlan;

use crate::secrets;

/// Directory of the local state of every stack, relative to the working directory.
pub const STATE_ROOT: &str = ".devstack";

/// Where the compose file of `plan` lives (`.devstack/<stack>/compose.yaml`, absolute).
pub fn compose_path(plan: &StackPlan) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    Ok(cwd.join(STATE_ROOT).join(&plan.name).join("compose.yaml"))
}

/// The secrets file beside the compose file at `compose`.
pub fn env_path(compose: &Path) -> PathBuf {
    match compose.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.join(".env"),
        _ => PathBuf::from(".env"),
    }
}

/// Creates `dir` and its missing parents with mode 0700, whatever the umask (the mode asked at
/// creation can only lose bits to the umask, never gain any); existing directories are left
/// as they are.
pub fn private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// What [`write_compose`] did.
#[derive(Clone, Debug)]
pub struct Written {
    /// The `.env` file.
    pub env_path: PathBuf,
    /// Every secret value of the plan.
    pub secrets: BTreeMap<String, String>,
    /// How many values were already there.
    pub reused: usize,
    /// The CPU override for GPU services (`compose.cpu.yaml`), when the stack has any.
    pub cpu_override: Option<PathBuf>,
}

/// Writes `yaml` to `path` and the secrets file beside it: existing values are kept, missing
/// ones generated, lines the user added preserved.
pub fn write_compose(plan: &StackPlan, yaml: &str, path: &Path) -> Result<Written> {
    let env_path = env_path(path);
    if let Some(dir) = env_path.parent() {
        private_dir(dir)?;
    }
    let existing = secrets::read_env_file(&env_path)?;
    let values = secrets::ensure_secrets(plan, &existing);
    let reused = values
        .iter()
        .filter(|(k, v)| existing.get(*k) == Some(v))
        .count();
    let env = secrets::merge_foreign_keys(&devstack_compose::env_file(plan, &values)?, &existing);
    secrets::write_private(&env_path, &env)?;
    secrets::write_private(path, yaml)?;
    let override_path = path.with_file_name(devstack_compose::gpu::CPU_OVERRIDE_FILE);
    let project = devstack_compose::render::project(plan);
    let cpu_override = match devstack_compose::gpu::cpu_override(&project) {
        Some(text) => {
            secrets::write_private(&override_path, &text)?;
            Some(override_path)
        }
        None => {
            // A stale override would name services that no longer ask for GPUs.
            let _ = std::fs::remove_file(&override_path);
            None
        }
    };
    Ok(Written {
        env_path,
        secrets: values,
        reused,
        cpu_override,
    })
}

/// Replaces the plan's generated secrets in the `.env` beside `compose` with new values (user
/// lines stay).
pub fn regenerate_secrets(plan: &StackPlan, compose: &Path) -> Result<()> {
    let env_path = env_path(compose);
    let mut existing = secrets::read_env_file(&env_path)?;
    if existing.is_empty() {
        return Ok(());
    }
    for id in devstack_compose::required_secret_ids(plan) {
        existing.remove(&id);
    }
    let values = secrets::ensure_secrets(plan, &existing);
    let env = secrets::merge_foreign_keys(&devstack_compose::env_file(plan, &values)?, &existing);
    secrets::write_private(&env_path, &env)?;
    Ok(())
}

/// The plan's secret values from the `.env` beside `compose`, generating (and saving) missing
/// ones; the compose file itself is left as it is.
pub fn ensure_secrets_file(plan: &StackPlan, compose: &Path) -> Result<BTreeMap<String, String>> {
    let env_path = env_path(compose);
    let existing = secrets::read_env_file(&env_path)?;
    let values = secrets::ensure_secrets(plan, &existing);
    if values.iter().any(|(k, v)| existing.get(k) != Some(v)) {
        if let Some(dir) = env_path.parent() {
            private_dir(dir)?;
        }
        let env =
            secrets::merge_foreign_keys(&devstack_compose::env_file(plan, &values)?, &existing);
        secrets::write_private(&env_path, &env)?;
    }
    Ok(values)
}
