//! The local secrets file (`.env` beside a rendered compose file): generated once with a
//! CSPRNG, reused on every later render, never loosened beyond mode 0600. [`sync`] is the one
//! read → ensure → merge → write sequence every command goes through.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use devstack_core::plan::StackPlan;
use devstack_render_compose::RenderError;

/// Failure to read or write the secrets file.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// I/O on the file.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line that is not `KEY=VALUE`.
    #[error("{path}:{line}: expected KEY=VALUE; fix or remove the line")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
    },
    /// The file's values cannot be written back (a value the `.env` format cannot hold).
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// What [`sync`] does with the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvSync {
    /// Generate missing secrets; write only when something was generated.
    Ensure,
    /// Generate missing secrets and always write the file (with the compose file beside it).
    Rewrite,
    /// Replace the plan's secrets with new values (user lines stay); nothing happens to a
    /// missing or empty file.
    Regenerate,
}

/// The plan's secret values after [`sync`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvValues {
    /// Every secret value of the plan, by id.
    pub values: BTreeMap<String, String>,
    /// How many of them were already in the file.
    pub reused: usize,
}

/// The one read → ensure → merge → write sequence of the `.env` at `path`: values already in
/// the file are kept, missing ones generated, lines the user added preserved (after the
/// generated content), the file written atomically with mode 0600 (its directory created).
pub fn sync(plan: &StackPlan, path: &Path, mode: EnvSync) -> Result<EnvValues, SecretsError> {
    let mut existing = read_env_file(path)?;
    if mode == EnvSync::Regenerate {
        if existing.is_empty() {
            return Ok(EnvValues::default());
        }
        for id in devstack_render_compose::required_secret_ids(plan) {
            existing.remove(&id);
        }
    }
    let values = ensure_secrets(plan, &existing);
    let reused = values
        .iter()
        .filter(|(k, v)| existing.get(*k) == Some(v))
        .count();
    if mode != EnvSync::Ensure || reused < values.len() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SecretsError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let generated = devstack_render_compose::env_file(plan, &values)?;
        write_private(path, &merge_foreign_keys(&generated, &existing))?;
    }
    Ok(EnvValues { values, reused })
}

/// Reads `KEY=VALUE` lines (comments and blank lines skipped). A missing file is empty.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, SecretsError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(SecretsError::Io {
                path: shown,
                source,
            })
        }
    };
    let mut values = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                values.insert(k.trim().to_string(), v.to_string());
            }
            _ => {
                return Err(SecretsError::Malformed {
                    path: shown,
                    line: i + 1,
                })
            }
        }
    }
    Ok(values)
}

/// The plan's secrets: values already in `existing` are kept, the rest are generated with the
/// operating system's CSPRNG.
pub fn ensure_secrets(
    plan: &StackPlan,
    existing: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    devstack_core::secrets::fill(plan, existing, &mut rand::rng())
}

/// Writes `contents` to `path` with mode 0600, atomically (temp file + rename), keeping any
/// previous file intact until the new one is complete.
pub fn write_private(path: &Path, contents: &str) -> Result<(), SecretsError> {
    let io = |source| SecretsError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("devstack-tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Keeps lines of `existing` that the new env file does not set (nothing the user added is
/// lost), appended after the generated content.
pub fn merge_foreign_keys(generated: &str, existing: &BTreeMap<String, String>) -> String {
    let ours: std::collections::BTreeSet<&str> = generated
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    let mut out = generated.to_string();
    let foreign: Vec<_> = existing
        .iter()
        .filter(|(k, _)| !ours.contains(k.as_str()))
        .collect();
    if !foreign.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("# kept from the previous file\n");
        for (k, v) in foreign {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}
