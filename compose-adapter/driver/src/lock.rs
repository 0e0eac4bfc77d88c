//! The per-stack lock, `.devstack/<stack>/.lock`: one `flock` holder per stack at a time.
//! `up`, `down` and `reset` hold it from reading the `.env` through writing the files to the
//! end of their engine work, and `env` while it reads (and maybe writes) the `.env`, so a
//! second command on the same stack never runs on passwords the first is about to replace.
//!
//! A second command waits: it prints once that it waits and for whom, then takes the lock
//! as soon as the first one ends (the kernel releases a `flock` when its holder exits, even
//! killed, so a stale lock cannot exist). Waiting is the right default: the other command is
//! usually a moment from done (an `env` in another shell, an `up` finishing), and failing
//! would make the user retry by hand. It gives up after [`LOCK_WAIT`] with an error naming
//! the lock file, so a hung holder does not block forever.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::env_file::{refuse_symlink, SecretsError};

/// How long a command waits for another one on the same stack before it fails.
pub const LOCK_WAIT: Duration = Duration::from_secs(600);

/// How often a waiting command tries again.
const RETRY: Duration = Duration::from_millis(50);

/// The held lock of one stack, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StackLock {
    _file: std::fs::File,
}

/// Takes the lock of the state directory `dir` (created 0700 whatever the umask), waiting up
/// to `wait` for another holder, and saying once on standard error that it waits.
pub fn acquire(dir: &Path, wait: Duration) -> Result<StackLock, SecretsError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SecretsError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let lock = dir.join(".lock");
    refuse_symlink(&lock)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(io(&lock))?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(StackLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock)(e)),
        }
        if started.elapsed() >= wait {
            return Err(SecretsError::Locked {
                path: lock.display().to_string(),
                waited: wait.as_secs(),
            });
        }
        if !told {
            eprintln!(
                "waiting for another devstack command on this stack to finish (it holds {})",
                lock.display()
            );
            told = true;
        }
        std::thread::sleep(RETRY);
    }
}

/// The state directory of the file `path` (`.devstack/<stack>` for its `.env`).
pub fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_second_holder_waits_then_fails_naming_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".devstack/demo");
        let held = acquire(&state, LOCK_WAIT).unwrap();
        let err = acquire(&state, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, SecretsError::Locked { .. }), "{err}");
        assert!(err.to_string().contains(".devstack/demo/.lock"), "{err}");
        drop(held);
        acquire(&state, Duration::from_millis(200)).unwrap();
    }
}
