//! The pure part of `devstack dev --runtime kubernetes`: which files of a batch of changed
//! host paths go to which sync target ([`batches`]: uploads and deletes, ignored paths left
//! out with the same rules as Docker's watcher), every file of a sync source for the initial
//! upload ([`source_files`]) and the tar stream sent to `tar -x` in the container
//! ([`tar_archive`]).

use std::io;
use std::path::{Path, PathBuf};

use devstack_core::plan::{StackPlan, SyncPlan};

use crate::devwatch::ignore_matcher;

/// What one sync target of one service receives for a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The service.
    pub service: String,
    /// The sync's host directory.
    pub source: PathBuf,
    /// The sync's container directory.
    pub target: String,
    /// Paths relative to `source` to upload (files, or directories uploaded whole).
    pub upload: Vec<PathBuf>,
    /// Absolute container paths to remove (the host path is gone).
    pub delete: Vec<String>,
    /// The sync asks for a restart of the service's process.
    pub restart: bool,
    /// The sync's ignore list (for directories uploaded whole).
    pub ignore: Vec<String>,
}

impl Batch {
    /// The sync this batch is for.
    pub fn sync(&self) -> SyncPlan {
        SyncPlan {
            source: self.source.display().to_string(),
            target: self.target.clone(),
            ignore: self.ignore.clone(),
            restart: self.restart,
        }
    }
}

/// What a host path is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file (or a link to one).
    File,
    /// A directory.
    Dir,
    /// Gone.
    Missing,
}

/// [`Entry`] of `path` on the host.
pub fn entry(path: &Path) -> Entry {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Entry::Dir,
        Ok(_) => Entry::File,
        Err(_) => Entry::Missing,
    }
}

/// Whether `relative` (a path under `sync.source`) is ignored by the sync.
fn ignored(sync: &SyncPlan, relative: &Path, is_dir: bool) -> bool {
    ignore_matcher(Path::new(&sync.source), &sync.ignore)
        .matched_path_or_any_parents(relative, is_dir)
        .is_ignore()
}

/// The container path of `relative` under `target` (always `/`-separated).
fn container_path(target: &str, relative: &Path) -> String {
    let mut out = target.trim_end_matches('/').to_string();
    for part in relative.components() {
        out.push('/');
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    out
}

/// The batches of the changed absolute `paths`, one per service and sync target that
/// receives something, `stat` telling what each path is now.
pub fn batches(plan: &StackPlan, paths: &[PathBuf], stat: impl Fn(&Path) -> Entry) -> Vec<Batch> {
    let mut out = Vec::new();
    for service in plan.active_services() {
        for sync in &service.sync {
            let source = PathBuf::from(&sync.source);
            let mut batch = Batch {
                service: service.name.clone(),
                source: source.clone(),
                target: sync.target.clone(),
                upload: Vec::new(),
                delete: Vec::new(),
                restart: sync.restart,
                ignore: sync.ignore.clone(),
            };
            for path in paths {
                let Ok(relative) = path.strip_prefix(&source) else {
                    continue;
                };
                if relative.as_os_str().is_empty() {
                    continue;
                }
                let kind = stat(path);
                if ignored(sync, relative, kind == Entry::Dir) {
                    continue;
                }
                match kind {
                    Entry::Missing => batch.delete.push(container_path(&sync.target, relative)),
                    Entry::File | Entry::Dir => batch.upload.push(relative.to_path_buf()),
                }
            }
            if !batch.upload.is_empty() || !batch.delete.is_empty() {
                out.push(batch);
            }
        }
    }
    out
}

/// Every file under `sync.source` that is not ignored, relative to it (sorted): the
/// initial upload.
pub fn source_files(sync: &SyncPlan) -> io::Result<Vec<PathBuf>> {
    let source = Path::new(&sync.source);
    let mut out = Vec::new();
    walk(sync, source, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(sync: &SyncPlan, source: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for item in std::fs::read_dir(source.join(dir))? {
        let item = item?;
        let relative = dir.join(item.file_name());
        let is_dir = entry(&item.path()) == Entry::Dir;
        if ignored(sync, &relative, is_dir) {
            continue;
        }
        if is_dir {
            walk(sync, source, &relative, out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

/// A tar archive of `files` (relative to `source`; a directory is added with what it holds
/// that `sync` does not ignore), file names relative, ownership left to the extracting side.
pub fn tar_archive(sync: &SyncPlan, files: &[PathBuf]) -> io::Result<Vec<u8>> {
    let source = Path::new(&sync.source);
    let mut builder = tar::Builder::new(Vec::new());
    for relative in files {
        let path = source.join(relative);
        match entry(&path) {
            Entry::File => builder.append_path_with_name(&path, relative)?,
            Entry::Dir => {
                builder.append_dir(relative, &path)?;
                let mut inside = Vec::new();
                walk(sync, source, relative, &mut inside)?;
                for file in inside {
                    builder.append_path_with_name(source.join(&file), &file)?;
                }
            }
            // Deleted between the event and the upload: the next batch deletes it.
            Entry::Missing => {}
        }
    }
    builder.into_inner()
}

/// The sync plans of `service` in `plan` (empty for an unknown service).
pub fn syncs<'a>(plan: &'a StackPlan, service: &str) -> &'a [SyncPlan] {
    plan.services
        .get(service)
        .map_or(&[], |s| s.sync.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::plan::{plan, PlanOptions};
    use devstack_core::test_support::{manifest, stack_yaml};

    fn demo(base: &Path) -> StackPlan {
        let stack = stack_yaml(&manifest(
            "demo",
            "services:\n  api:\n    image: a:1\n    sync: [{source: ./src, target: /app/src/, ignore: ['*.log', 'tmp/']}]\n  worker:\n    image: w:1\n    sync: [{source: ./src, target: /w, restart: true}]\n",
        ));
        let options = PlanOptions {
            base_dir: Some(base.to_path_buf()),
            ..PlanOptions::default()
        };
        plan(&stack, &options).unwrap()
    }

    #[test]
    fn a_batch_uploads_present_files_deletes_gone_ones_and_skips_ignored_ones() {
        let plan = demo(Path::new("/p"));
        let paths: Vec<PathBuf> = [
            "/p/src/main.py",
            "/p/src/gone.py",
            "/p/src/debug.log",
            "/p/src/tmp",
            "/p/src/.git/HEAD",
            "/p/src/pkg/__pycache__/m.pyc",
            "/p/src",
            "/p/other/x",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let stat = |p: &Path| match p.to_str() {
            Some("/p/src/gone.py") => Entry::Missing,
            Some("/p/src/tmp") => Entry::Dir,
            _ => Entry::File,
        };
        let got = batches(&plan, &paths, stat);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].service, "api");
        assert_eq!(got[0].upload, [PathBuf::from("main.py")]);
        assert_eq!(got[0].delete, ["/app/src/gone.py"]);
        assert!(!got[0].restart);
        assert_eq!(got[1].service, "worker");
        assert_eq!(
            got[1].upload,
            [PathBuf::from("main.py"), "debug.log".into(), "tmp".into()]
        );
        assert_eq!(got[1].delete, ["/w/gone.py"]);
        assert!(got[1].restart);
        assert_eq!(got[1].sync(), syncs(&plan, "worker")[0]);
        // Nothing under a sync source: no batch.
        assert!(batches(&plan, &["/p/other/x".into()], stat).is_empty());
    }

    #[test]
    fn the_initial_upload_and_its_tar_leave_ignored_paths_out() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for d in ["pkg/__pycache__", ".git", "tmp", "empty"] {
            std::fs::create_dir_all(src.join(d)).unwrap();
        }
        for f in [
            "main.py",
            "debug.log",
            "pkg/m.py",
            "pkg/__pycache__/m.pyc",
            ".git/HEAD",
            "tmp/x",
        ] {
            std::fs::write(src.join(f), f).unwrap();
        }
        let plan = demo(dir.path());
        let sync = &syncs(&plan, "api")[0];
        let files = source_files(sync).unwrap();
        assert_eq!(files, [PathBuf::from("main.py"), "pkg/m.py".into()]);

        // A directory in a batch is sent with what it holds, minus ignored paths.
        let bytes = tar_archive(sync, &["pkg".into(), "main.py".into(), "gone".into()]).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names = Vec::new();
        for item in archive.entries().unwrap() {
            let mut item = item.unwrap();
            let name = item.path().unwrap().display().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut item, &mut text).unwrap();
            names.push((name, text));
        }
        let want = [
            ("pkg", ""),
            ("pkg/m.py", "pkg/m.py"),
            ("main.py", "main.py"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(names, want);
        assert!(syncs(&plan, "nope").is_empty());
    }
}
