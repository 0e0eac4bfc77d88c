//! A stack's local state on the Docker side: `.devstack/<stack>/compose.yaml` and the
//! secrets file `.env` beside it (files 0600, directories devstack creates 0700, whatever the
//! umask). `render compose -o` and `devstack up` write the
//! same two files the same way, so `devstack up` and `docker compose up` on the rendered file
//! share credentials (and, through the project name, containers and volumes).

use std::path::{Path, PathBuf};

use devstack_core::plan::StackPlan;
use devstack_render_compose::gpu;
use devstack_render_compose::model::Project;

use crate::env_file::{self, EnvSync, EnvValues, SecretsError};
use crate::lock::StackLock;

/// Directory of the local state of every stack, under the stack's root (the CLI: the
/// directory of the stack file, see the README).
pub const STATE_ROOT: &str = ".devstack";

/// Why the local state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The secrets file.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The compose file rendering.
    #[error(transparent)]
    Render(#[from] devstack_render_compose::RenderError),
    /// Writing a file.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Where a stack's files live: a compose file and the `.env` beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateFiles {
    /// The compose file (absolute for `devstack up`: it is recorded in container labels).
    pub compose: PathBuf,
    /// The secrets file beside it.
    pub env: PathBuf,
}

impl StateFiles {
    /// `.devstack/<stack>/compose.yaml` under `root` (the stack file's directory) and its `.env`.
    pub fn of(plan: &StackPlan, root: &Path) -> StateFiles {
        StateFiles::beside(&root.join(STATE_ROOT).join(&plan.name).join("compose.yaml"))
    }

    /// The compose file at `compose` and the `.env` beside it (`render compose -o`).
    pub fn beside(compose: &Path) -> StateFiles {
        let env = match compose.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.join(".env"),
            _ => PathBuf::from(".env"),
        };
        StateFiles {
            compose: compose.to_path_buf(),
            env,
        }
    }

    /// The CPU override for GPU services, beside the compose file.
    pub fn cpu_override(&self) -> PathBuf {
        self.compose.with_file_name(gpu::CPU_OVERRIDE_FILE)
    }

    /// The plan's secret values, generating (and saving) missing ones; the compose file is
    /// left as it is (`devstack env`).
    pub fn secrets(&self, plan: &StackPlan) -> Result<EnvValues, StateError> {
        Ok(env_file::sync(plan, &self.env, EnvSync::Ensure)?)
    }

    /// Takes the stack's lock (`.lock` beside the files; see [`crate::lock`]), waiting for
    /// another command on the stack to finish.
    pub fn lock(&self) -> Result<StackLock, StateError> {
        Ok(crate::lock::acquire(
            &crate::lock::dir_of(&self.env),
            crate::lock::LOCK_WAIT,
        )?)
    }

    /// Replaces the plan's generated secrets in the `.env` with new values (user lines stay),
    /// under the lock `held`.
    pub fn regenerate_secrets(&self, held: &StackLock, plan: &StackPlan) -> Result<(), StateError> {
        env_file::sync_held(plan, &self.env, EnvSync::Regenerate, held)?;
        Ok(())
    }

    /// Replaces the app secrets `target` selects in the `.env` (see
    /// [`env_file::rotate_held`]), under the lock `held`; the ids replaced.
    pub fn rotate_secrets(
        &self,
        held: &StackLock,
        plan: &StackPlan,
        target: Option<&str>,
    ) -> Result<Vec<String>, StateError> {
        Ok(env_file::rotate_held(plan, &self.env, target, held)?)
    }

    /// Writes the compose file `yaml` of `plan` (rendered as `project`) and the secrets file
    /// beside it (existing values kept, missing ones generated, lines the user added
    /// preserved), and the CPU override when the stack has GPU services (a stale one is
    /// removed), and the services' files (`files/`, see [`crate::files`]), under the lock
    /// `held`.
    pub fn write(
        &self,
        held: &StackLock,
        plan: &StackPlan,
        project: &Project,
        yaml: &str,
    ) -> Result<Written, StateError> {
        let secrets = env_file::sync_held(plan, &self.env, EnvSync::Rewrite, held)?;
        write(&self.compose, yaml)?;
        let dir = self.env.parent().unwrap_or(Path::new("."));
        crate::files::write(dir, plan)?;
        let override_path = self.cpu_override();
        let cpu_override = match gpu::cpu_override(project) {
            Some(text) => {
                write(&override_path, &text)?;
                Some(override_path)
            }
            None => {
                // A stale override would name services that no longer ask for GPUs.
                let _ = std::fs::remove_file(&override_path);
                None
            }
        };
        Ok(Written {
            secrets,
            cpu_override,
        })
    }
}

/// Writes a state file as the secrets file is written: atomically, mode 0600 whatever the
/// umask.
fn write(path: &Path, text: &str) -> Result<(), StateError> {
    Ok(env_file::write_private(path, text)?)
}

/// What [`StateFiles::write`] did.
#[derive(Clone, Debug)]
pub struct Written {
    /// Every secret value of the plan, and how many were already there.
    pub secrets: EnvValues,
    /// The CPU override for GPU services (`compose.cpu.yaml`), when the stack has any.
    pub cpu_override: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::os::unix::fs::PermissionsExt;

    use devstack_core::test_support::plan_spec;

    use super::*;

    #[test]
    fn one_env_sequence_keeps_values_and_user_lines() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_spec("services:\n  db: {type: postgres}\n");
        let files = StateFiles::of(&plan, dir.path());
        assert_eq!(files.env, dir.path().join(".devstack/demo/.env"));
        let project = devstack_render_compose::render::project(&plan);
        let held = files.lock().unwrap();
        let first = files.write(&held, &plan, &project, "# compose\n").unwrap();
        drop(held);
        assert_eq!(first.secrets.reused, 0);
        assert!(!first.secrets.values.is_empty());
        let mode = std::fs::metadata(&files.env).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&files.env).unwrap();
        std::fs::write(&files.env, format!("{text}MINE=1\n")).unwrap();
        let again = files.secrets(&plan).unwrap();
        assert_eq!(again.values, first.secrets.values);
        assert_eq!(again.reused, again.values.len());
        let held = files.lock().unwrap();
        files.regenerate_secrets(&held, &plan).unwrap();
        drop(held);
        let fresh = files.secrets(&plan).unwrap();
        assert!(fresh
            .values
            .iter()
            .all(|(k, v)| first.secrets.values[k] != *v));
        assert!(std::fs::read_to_string(&files.env)
            .unwrap()
            .contains("MINE=1\n"));
        assert_eq!(
            std::fs::read_to_string(&files.compose).unwrap(),
            "# compose\n"
        );
    }
}
