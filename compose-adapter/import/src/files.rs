//! `configs` and bind-mounted files → `files` (issue 18). A Compose config (`content` or
//! `file`) and a bind mount whose source is a regular file become a file of the service:
//! the same bytes at the same path, read-only, in both runtimes. A bind mount is live and a
//! file is a copy (an edit reaches the container at the next `devstack up`, which restarts the
//! service), so a bind mount that becomes a file is reported as changed. Directories (and
//! files too large for `files`) are [`crate::devloop`]'s: `mounts` or `sync`.
//!
//! The crate does no I/O: the CLI says which paths are regular files
//! ([`crate::ImportOptions::regular_files`]) and where the stack file goes
//! ([`crate::ImportOptions::base_dir`]), so sources are written relative to it.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use devstack_core::types::FileSpec;
use serde_json::Value;

use crate::loss::LossReport;
use crate::model::{Mount, Project, Service};
use crate::ImportOptions;

/// Every host path the import asks about: bind sources and configs' files (which are regular
/// files, which exist, which are directories), build contexts and their Dockerfiles.
pub fn candidates(project: &Project) -> Vec<String> {
    let mut out: Vec<String> = project
        .services
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter(|m| m.kind == "bind")
        .filter_map(|m| m.source.clone())
        .collect();
    out.extend(
        project
            .configs
            .values()
            .filter_map(|c| c.get("file").and_then(Value::as_str).map(String::from)),
    );
    for build in project.services.values().filter_map(|s| s.build.as_ref()) {
        if let Some(context) = build.get("context").and_then(Value::as_str) {
            out.push(context.to_string());
            out.push(dockerfile_path(context, build));
        }
    }
    out
}

/// The Dockerfile of `build` as a host path: `dockerfile` (default `Dockerfile`) inside
/// `context`, or as written when absolute.
pub fn dockerfile_path(context: &str, build: &Value) -> String {
    let dockerfile = build
        .get("dockerfile")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile");
    if dockerfile.starts_with('/') {
        dockerfile.to_string()
    } else {
        format!("{}/{dockerfile}", context.trim_end_matches('/'))
    }
}

/// `source` as the stack file names it: relative to `base_dir` when given and the two share a
/// directory below `/` (a project's own tree); absolute otherwise (`/var/run/docker.sock`,
/// `/srv/data`), so moving the project keeps system paths right.
pub fn source_path(source: &str, options: &ImportOptions) -> String {
    match &options.base_dir {
        Some(base) => relative(Path::new(base), Path::new(source)),
        None => source.to_string(),
    }
}

fn relative(base: &Path, target: &Path) -> String {
    let b: Vec<Component> = base.components().collect();
    let t: Vec<Component> = target.components().collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let rooted = target.has_root() && base.has_root();
    if common == 0 || (rooted && common <= 1) {
        return target.display().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part.as_os_str());
    }
    if out.as_os_str().is_empty() {
        return ".".to_string();
    }
    if out.starts_with("..") {
        out.display().to_string()
    } else {
        format!("./{}", out.display())
    }
}

/// The file for a bind mount, when its source is a regular file.
pub fn from_bind(
    name: &str,
    mount: &Mount,
    options: &ImportOptions,
    report: &mut LossReport,
) -> Option<(String, FileSpec)> {
    let source = mount.source.as_deref()?;
    if !options.regular_files.contains(source) {
        return None;
    }
    let ro = if mount.read_only == Some(true) {
        ""
    } else {
        " read-only now,"
    };
    report.changed(
        name,
        &format!("volumes.{}", mount.target),
        &format!("bind mount of the file {source} becomes a file:{ro} a copy, so an edit reaches the container at the next devstack up (which restarts the service)"),
        "nothing to do; bind the directory instead (it becomes a mount, or sync inside the build context) for files you edit while the service runs",
    );
    Some((
        mount.target.clone(),
        FileSpec {
            source: Some(source_path(source, options)),
            ..FileSpec::default()
        },
    ))
}

/// The files of a service's `configs`.
pub fn from_configs(
    name: &str,
    svc: &Service,
    project: &Project,
    options: &ImportOptions,
    report: &mut LossReport,
) -> BTreeMap<String, FileSpec> {
    let mut out = BTreeMap::new();
    for reference in &svc.configs {
        let source = reference
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("");
        let key = format!("configs.{source}");
        let target = reference
            .get("target")
            .and_then(Value::as_str)
            .map_or_else(|| format!("/{source}"), String::from);
        let mode = reference
            .get("mode")
            .and_then(Value::as_u64)
            .map(|m| format!("{m:04o}"));
        let Some(config) = project.configs.get(source) else {
            report.dropped(
                name,
                &key,
                &format!("config {source} is not defined"),
                "define it at the top level",
            );
            continue;
        };
        let spec = if let Some(content) = config.get("content").and_then(Value::as_str) {
            FileSpec {
                content: Some(content.to_string()),
                mode,
                ..FileSpec::default()
            }
        } else if let Some(file) = config.get("file").and_then(Value::as_str) {
            if !options.regular_files.contains(file) {
                report.dropped(
                    name,
                    &key,
                    &format!("config {source}: {file} is not a readable file"),
                    "create the file, then import again",
                );
                continue;
            }
            FileSpec {
                source: Some(source_path(file, options)),
                mode,
                ..FileSpec::default()
            }
        } else {
            report.dropped(
                name,
                &key,
                &format!("config {source} is neither content nor a file (environment or external)"),
                "write it as content or a file",
            );
            continue;
        };
        if reference.get("uid").is_some() || reference.get("gid").is_some() {
            report.dropped(
                name,
                &format!("{key}.uid"),
                "files belong to the container's user; uid/gid do not carry over",
                "make the file readable by everyone (mode 0444/0644)",
            );
        }
        out.insert(target, spec);
    }
    out
}
