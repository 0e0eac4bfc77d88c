//! A build context as the Engine API receives it: the files under the context directory that
//! `.dockerignore` does not exclude, as a tar, and the content tag derived from them (with the
//! Dockerfile path, target and build arguments), so an unchanged context is never rebuilt and
//! Docker and Kubernetes run the same image.
//!
//! `.dockerignore` patterns are matched with the `ignore` crate's gitignore matcher, each
//! pattern anchored at the context root as Docker anchors it (`node_modules` excludes only the
//! top-level directory, `**/__pycache__` every one; `!` re-includes). The Dockerfile is always
//! sent. Entries are sorted and carry no timestamps or owners, so the same files make the same
//! tar and the same tag on every machine.

use std::io;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};

use devstack_core::plan::BuildPlan;

/// Why a build context could not be read. Each names the spec field to fix.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context directory does not exist or is not a directory.
    #[error("build context {path} is not a directory; create it or fix the path (relative to the stack file)")]
    NoContext {
        /// The context path.
        path: String,
    },
    /// The Dockerfile does not exist inside the context.
    #[error("{dockerfile} not found in the build context {context}; add the Dockerfile there or set build.dockerfile")]
    NoDockerfile {
        /// The context path.
        context: String,
        /// The Dockerfile path inside it.
        dockerfile: String,
    },
    /// `.dockerignore` has a pattern the matcher rejects.
    #[error("{context}/.dockerignore: {message}")]
    Ignore {
        /// The context path.
        context: String,
        /// The matcher's message.
        message: String,
    },
    /// A file could not be read.
    #[error("reading {path}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl ContextError {
    /// The spec field (below `spec.services.<name>.build`) the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ContextError::NoDockerfile { .. } => "dockerfile",
            _ => "context",
        }
    }
}

/// What one entry of the context is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file; `executable` keeps the mode's x bits.
    File {
        /// Whether any x bit is set.
        executable: bool,
    },
    /// A symbolic link (not followed) to this target.
    Symlink(PathBuf),
}

/// One entry: its path inside the context (`/`-separated) and kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the context.
    pub path: String,
    /// Directory, file or link.
    pub kind: EntryKind,
}

/// The files of one build context, `.dockerignore` applied.
#[derive(Clone, Debug)]
pub struct BuildContext {
    root: PathBuf,
    entries: Vec<Entry>,
}

impl BuildContext {
    /// Reads the entries of the context of `build` (paths only; contents are read by
    /// [`Self::tag`] and [`Self::tar`]).
    pub fn open(build: &BuildPlan) -> Result<BuildContext, ContextError> {
        let root = PathBuf::from(&build.context);
        if !root.is_dir() {
            return Err(ContextError::NoContext {
                path: build.context.clone(),
            });
        }
        if !root.join(&build.dockerfile).is_file() {
            return Err(ContextError::NoDockerfile {
                context: build.context.clone(),
                dockerfile: build.dockerfile.clone(),
            });
        }
        let matcher = dockerignore(&root)?;
        let mut entries = Vec::new();
        walk(&root, &root, &matcher, &build.dockerfile, &mut entries)?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(BuildContext { root, entries })
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The content tag: 16 hex digits of the SHA-256 of every entry (path, kind, mode,
    /// content), the Dockerfile path, the target and the build arguments.
    pub fn tag(&self, build: &BuildPlan) -> Result<String, ContextError> {
        let mut hash = Sha256::new();
        for entry in &self.entries {
            match &entry.kind {
                EntryKind::Dir => hash.update(format!("D\0{}\0", entry.path)),
                EntryKind::Symlink(target) => {
                    hash.update(format!("L\0{}\0{}\0", entry.path, target.display()))
                }
                EntryKind::File { executable } => {
                    let bytes = self.read(&entry.path)?;
                    hash.update(format!(
                        "F\0{}\0{executable}\0{}\0",
                        entry.path,
                        bytes.len()
                    ));
                    hash.update(&bytes);
                }
            }
        }
        hash.update(format!("dockerfile\0{}\0", build.dockerfile));
        hash.update(format!(
            "target\0{}\0",
            build.target.as_deref().unwrap_or("")
        ));
        for (key, value) in &build.args {
            hash.update(format!("arg\0{key}\0{value}\0"));
        }
        Ok(hex::encode(hash.finalize())[..16].to_string())
    }

    /// The context as an uncompressed tar: sorted entries, mode 0755/0644 (files keep their x
    /// bits), owner 0, time 0.
    pub fn tar(&self) -> Result<Vec<u8>, ContextError> {
        let mut tar = tar::Builder::new(Vec::new());
        let io_err = |path: &str, source| ContextError::Io {
            path: path.to_string(),
            source,
        };
        for entry in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, &entry.path, io::empty())
                }
                EntryKind::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, &entry.path, target)
                }
                EntryKind::File { executable } => {
                    let bytes = self.read(&entry.path)?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, &entry.path, bytes.as_slice())
                }
            }
            .map_err(|e| io_err(&entry.path, e))?;
        }
        tar.into_inner().map_err(|e| io_err(".", e))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, ContextError> {
        let full = self.root.join(path);
        std::fs::read(&full).map_err(|source| ContextError::Io {
            path: full.display().to_string(),
            source,
        })
    }
}

/// The matcher of `root/.dockerignore` (empty when there is none), patterns anchored at root.
fn dockerignore(root: &Path) -> Result<Gitignore, ContextError> {
    let mut builder = GitignoreBuilder::new(root);
    let file = root.join(".dockerignore");
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ContextError::Io {
                path: file.display().to_string(),
                source,
            })
        }
    };
    let ignore_err = |e: ignore::Error| ContextError::Ignore {
        context: root.display().to_string(),
        message: e.to_string(),
    };
    for line in text.lines() {
        if let Some(pattern) = anchored(line) {
            builder.add_line(None, &pattern).map_err(ignore_err)?;
        }
    }
    builder.build().map_err(ignore_err)
}

/// A `.dockerignore` line as an anchored gitignore pattern; `None` for comments and blanks.
pub fn anchored(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (negate, pattern) = match line.strip_prefix('!') {
        Some(rest) => ("!", rest.trim()),
        None => ("", line),
    };
    let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
    (!pattern.is_empty()).then(|| format!("{negate}/{pattern}"))
}

fn walk(
    root: &Path,
    dir: &Path,
    matcher: &Gitignore,
    dockerfile: &str,
    out: &mut Vec<Entry>,
) -> Result<(), ContextError> {
    let io_err = |path: &Path, source| ContextError::Io {
        path: path.display().to_string(),
        source,
    };
    for item in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let item = item.map_err(|e| io_err(dir, e))?;
        let full = item.path();
        let meta = std::fs::symlink_metadata(&full).map_err(|e| io_err(&full, e))?;
        let relative = full
            .strip_prefix(root)
            .unwrap_or(&full)
            .to_string_lossy()
            .replace('\\', "/");
        let is_dir = meta.is_dir();
        let ignored = matcher
            .matched_path_or_any_parents(&relative, is_dir)
            .is_ignore();
        if ignored && relative != dockerfile {
            // A re-included path below an excluded directory still needs the walk.
            if is_dir && has_negations(matcher) {
                walk(root, &full, matcher, dockerfile, out)?;
            }
            continue;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| io_err(&full, e))?;
            out.push(Entry {
                path: relative,
                kind: EntryKind::Symlink(target),
            });
        } else if is_dir {
            out.push(Entry {
                path: relative,
                kind: EntryKind::Dir,
            });
            walk(root, &full, matcher, dockerfile, out)?;
        } else if meta.is_file() {
            out.push(Entry {
                path: relative,
                kind: EntryKind::File {
                    executable: is_executable(&meta),
                },
            });
        }
    }
    Ok(())
}

fn has_negations(matcher: &Gitignore) -> bool {
    matcher.num_whitelists() > 0
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
