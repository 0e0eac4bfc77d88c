//! The services' files on the Docker side: each planned file written, with its exact bytes and
//! mode, to `files/<service>/<key>` beside the compose file, which bind-mounts it read-only
//! (`devstack_render_compose::render::file_source`). `devstack up` and `render compose -o`
//! write them with the compose file; files and service directories the plan no longer has are
//! removed. Directories are 0700 (the engine mounts them as root); links are refused.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use devstack_core::conventions::FILES_DIR;
use devstack_core::plan::{PlannedFile, StackPlan};
use devstack_render_compose::model::Project;

use crate::env_file::{refuse_symlink, SecretsError};

/// Writes every service's files under `dir` (the compose file's directory) and removes stale
/// ones.
pub fn write(dir: &Path, plan: &StackPlan) -> Result<(), SecretsError> {
    let root = dir.join(FILES_DIR);
    let with_files: Vec<_> = plan
        .services
        .values()
        .filter(|s| !s.files.is_empty())
        .collect();
    if with_files.is_empty() && std::fs::symlink_metadata(&root).is_err() {
        return Ok(());
    }
    private_dir(&root)?;
    for service in &with_files {
        let service_dir = root.join(&service.name);
        private_dir(&service_dir)?;
        let keys: BTreeSet<String> = service.files.iter().map(PlannedFile::key).collect();
        for file in &service.files {
            write_file(&service_dir.join(file.key()), &file.bytes, file.mode)?;
        }
        remove_others(&service_dir, |name| keys.contains(name), false)?;
    }
    let names: BTreeSet<&str> = with_files.iter().map(|s| s.name.as_str()).collect();
    remove_others(&root, |name| names.contains(name), true)
}

/// `project` with its bind-mount sources (relative to the compose file) made absolute under
/// `working_dir`, as Compose resolves them.
pub fn absolute_sources(mut project: Project, working_dir: &Path) -> Project {
    for service in project.services.values_mut() {
        for mount in service.volumes.iter_mut().filter(|m| m.kind == "bind") {
            if let Some(relative) = mount.source.strip_prefix("./") {
                mount.source = working_dir.join(relative).display().to_string();
            }
        }
    }
    project
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn private_dir(path: &Path) -> Result<(), SecretsError> {
    refuse_symlink(path)?;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(path)(e)),
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io(path))
}

/// Writes `bytes` to `path` with `mode` exactly (whatever the umask), atomically: a temp file
/// created exclusively beside it, then renamed over it. Unchanged files are left alone.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SecretsError> {
    refuse_symlink(path)?;
    if let (Ok(meta), Ok(old)) = (std::fs::metadata(path), std::fs::read(path)) {
        if old == bytes && meta.permissions().mode() & 0o7777 == mode {
            return Ok(());
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io(path))
}

/// Removes the entries of `dir` that `keep` rejects (directories only when `dirs`).
fn remove_others(dir: &Path, keep: impl Fn(&str) -> bool, dirs: bool) -> Result<(), SecretsError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep(&name) {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().map_err(io(&path))?.is_dir();
        let removed = match (is_dir, dirs) {
            (true, true) => std::fs::remove_dir_all(&path),
            (false, _) => std::fs::remove_file(&path),
            (true, false) => Ok(()),
        };
        removed.map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn files_are_written_with_their_bytes_and_mode_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_spec(
            "services:\n  api:\n    image: a:1\n    files:\n      /etc/a.conf: {content: \"a\\n\"}\n      /etc/key: {content: k, mode: \"0600\"}\n",
        );
        write(dir.path(), &plan).unwrap();
        let api = &plan.services["api"];
        let root = dir.path().join("files/api");
        for file in &api.files {
            let path = root.join(file.key());
            assert_eq!(std::fs::read(&path).unwrap(), file.bytes);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, file.mode);
        }
        let dir_mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        // A file removed from the spec, and a service without files, leave nothing behind.
        let fewer = plan_spec(
            "services:\n  api:\n    image: a:1\n    files:\n      /etc/a.conf: {content: b}\n",
        );
        write(dir.path(), &fewer).unwrap();
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1);
        assert_eq!(
            std::fs::read(root.join(fewer.services["api"].files[0].key())).unwrap(),
            b"b"
        );
        write(dir.path(), &plan_spec("services:\n  api: {image: a:1}\n")).unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn bind_sources_become_absolute_under_the_working_dir() {
        let plan = plan_spec(
            "services:\n  api:\n    image: a:1\n    files:\n      /etc/a.conf: {content: a}\n",
        );
        let project = devstack_render_compose::render::project(&plan);
        let project = absolute_sources(project, Path::new("/w/.devstack/demo"));
        let mount = &project.services["api"].volumes[0];
        assert!(mount
            .source
            .starts_with("/w/.devstack/demo/files/api/etc_a.conf-"));
    }
}
