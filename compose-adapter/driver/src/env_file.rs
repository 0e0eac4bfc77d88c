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
    /// A state file or its directory is a symbolic link.
    #[error("{path} is a symbolic link; devstack reads and writes its state only in real files and directories: remove the link")]
    Symlink {
        /// The link.
        path: String,
    },
    /// Another command on the stack held its lock for too long.
    #[error("another devstack command on this stack still holds {path} after {waited} s; let it finish (or stop it), then run this again")]
    Locked {
        /// The lock file.
        path: String,
        /// Seconds waited.
        waited: u64,
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
///
/// The whole sequence holds the stack's lock ([`crate::lock`], `.lock` beside the file), so
/// concurrent runs (two shells, `up` and `env`) agree on one set of values instead of each
/// keeping its own.
pub fn sync(plan: &StackPlan, path: &Path, mode: EnvSync) -> Result<EnvValues, SecretsError> {
    let held = crate::lock::acquire(&crate::lock::dir_of(path), crate::lock::LOCK_WAIT)?;
    sync_held(plan, path, mode, &held)
}

/// [`sync`] for a caller that already holds the stack's lock (`up`, `reset`: across their
/// engine work too).
pub fn sync_held(
    plan: &StackPlan,
    path: &Path,
    mode: EnvSync,
    _held: &crate::lock::StackLock,
) -> Result<EnvValues, SecretsError> {
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
        let generated = devstack_render_compose::env_file(plan, &values)?;
        write_private(path, &merge_foreign_keys(&generated, &existing))?;
    }
    Ok(EnvValues { values, reused })
}

/// `devstack secrets rotate` on the `.env` at `path`, under the lock `held`: the app secrets
/// `target` selects (`None`: all of them; `Some("svc.NAME")`) get new values, everything else
/// is kept (missing values generated), user lines preserved. Returns the ids replaced; an
/// unknown target replaces nothing (the caller checks it first with
/// [`devstack_core::secrets::rotate`]).
pub fn rotate_held(
    plan: &StackPlan,
    path: &Path,
    target: Option<&str>,
    _held: &crate::lock::StackLock,
) -> Result<Vec<String>, SecretsError> {
    let existing = read_env_file(path)?;
    let mut values = ensure_secrets(plan, &existing);
    let rotated = devstack_core::secrets::rotate(plan, &mut values, target, &mut rand::rng())
        .unwrap_or_default();
    let generated = devstack_render_compose::env_file(plan, &values)?;
    write_private(path, &merge_foreign_keys(&generated, &existing))?;
    Ok(rotated)
}

/// Reads `KEY=VALUE` lines (comments and blank lines skipped). A missing file is empty.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, SecretsError> {
    let shown = path.display().to_string();
    refuse_symlink(path)?;
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

/// Refuses `path` when it, or the directory it is in, is a symbolic link: state is never
/// read or written through a link a repository could ship (`.env -> ~/.bashrc`).
pub fn refuse_symlink(path: &Path) -> Result<(), SecretsError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    for candidate in std::iter::once(path).chain(dir) {
        if std::fs::symlink_metadata(candidate).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(SecretsError::Symlink {
                path: candidate.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Writes `contents` to `path` with mode 0600, atomically, keeping any previous file intact
/// until the new one is complete: a temp file of a random name beside it, created exclusively
/// (`O_CREAT|O_EXCL`: nothing planted at that name, link or file, is opened), then renamed
/// over `path` (which replaces a link itself, never its target; links are refused anyway).
pub fn write_private(path: &Path, contents: &str) -> Result<(), SecretsError> {
    refuse_symlink(path)?;
    let io = |source| SecretsError::Io {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(e) => return Err(io(e)),
        }
    };
    let written = file
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(contents.as_bytes()))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::symlink;

    use super::*;

    /// A file outside the state directory that a planted link points at.
    fn victim(dir: &Path) -> std::path::PathBuf {
        let victim = dir.join("bashrc");
        std::fs::write(&victim, "export KEEP=1\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        victim
    }

    fn untouched(victim: &Path) {
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "export KEEP=1\n");
        let mode = std::fs::metadata(victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_set_of_secrets() {
        let plan = devstack_core::test_support::plan_spec(
            "services:\n  db: {type: postgres}\n  cache: {type: redis}\n",
        );
        for _round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(".devstack/demo/.env");
            let seen: Vec<BTreeMap<String, String>> = std::thread::scope(|scope| {
                let runs: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| sync(&plan, &path, EnvSync::Ensure).unwrap().values))
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let kept = read_env_file(&path).unwrap();
            for values in &seen {
                for (id, value) in values {
                    assert_eq!(kept.get(id), Some(value), "a run went on with a lost {id}");
                }
            }
        }
    }

    #[test]
    fn a_link_planted_at_the_old_temp_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        symlink(&victim, state.join(".env.devstack-tmp")).unwrap();
        write_private(&state.join(".env"), "A=1\n").unwrap();
        untouched(&victim);
        assert_eq!(
            std::fs::read_to_string(state.join(".env")).unwrap(),
            "A=1\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_linked_state_file_or_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        symlink(&victim, state.join(".env")).unwrap();
        let err = write_private(&state.join(".env"), "A=1\n").unwrap_err();
        assert!(matches!(err, SecretsError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = read_env_file(&state.join(".env")).unwrap_err();
        assert!(matches!(err, SecretsError::Symlink { .. }), "{err}");
        untouched(&victim);

        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        symlink(&elsewhere, dir.path().join("linked")).unwrap();
        let err = write_private(&dir.path().join("linked/compose.yaml"), "x").unwrap_err();
        assert!(matches!(err, SecretsError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
