//! The inner loop of an image service in the plan: `build` (the image reference a content tag
//! makes of it), host `mounts` and `sync` directories, every path resolved against the stack
//! file's directory ([`super::PlanOptions::base_dir`]) and checked lexically. Whether the paths
//! exist, and the content tag itself, are I/O: the CLI finds them out and hands the tag in
//! ([`super::PlanOptions::build_tags`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::model::Workload;
use super::shape::ServiceInput;
use super::text;
use crate::error::ValidationErrors;
use crate::types::ServiceSpec;

/// The tag of a `build` image whose content tag is not known (the operator, or a stack applied
/// without `devstack apply`): such an image is never on a node, and the status says so.
pub const UNBUILT_TAG: &str = "unbuilt";

/// Paths `sync` never copies, whatever its `ignore` list says.
pub const ALWAYS_IGNORED: [&str; 2] = [".git", "__pycache__"];

/// How to build a service's image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildPlan {
    /// Context directory (absolute when the plan has a base directory).
    pub context: String,
    /// Dockerfile, relative to the context (`Dockerfile` by default), never outside it.
    pub dockerfile: String,
    /// Multi-stage target.
    pub target: Option<String>,
    /// Build arguments.
    pub args: BTreeMap<String, String>,
    /// Repository the image is tagged into (registry mirror applied): the built image is
    /// named exactly as the containers reference it.
    pub repository: String,
    /// The content tag, or [`UNBUILT_TAG`] when it is not known.
    pub tag: String,
    /// Whether nodes may pull the image (`spec.imageRegistry` is set: `devstack build` pushes
    /// there); otherwise it must already be on the node (`imagePullPolicy: Never`).
    pub pullable: bool,
}

impl BuildPlan {
    /// Whether the content tag is known.
    pub fn is_built(&self) -> bool {
        self.tag != UNBUILT_TAG
    }
}

/// A host path mounted into the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPlan {
    /// Host path (absolute when the plan has a base directory).
    pub source: String,
    /// Absolute container path.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A source directory `devstack dev` keeps in sync with the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPlan {
    /// Host directory (absolute when the plan has a base directory).
    pub source: String,
    /// Absolute container path.
    pub target: String,
    /// Patterns not synced (`.gitignore` syntax), [`ALWAYS_IGNORED`] first.
    pub ignore: Vec<String>,
    /// Restart the container after a sync.
    pub restart: bool,
}

/// The inner-loop part of one service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DevLoop {
    pub build: Option<BuildPlan>,
    pub mounts: Vec<MountPlan>,
    pub sync: Vec<SyncPlan>,
}

/// The image reference of an image service (before the registry mirror): `image` as written,
/// or with `build` the repository (`image` without its tag, default `<stack>/<service>`) and
/// the content tag.
pub(super) fn image(input: &ServiceInput, errors: &mut ValidationErrors) -> String {
    let spec = input.spec;
    let Some(_) = &spec.build else {
        return spec.image.clone().unwrap_or_default();
    };
    let (repository, written_tag) = match spec.image.as_deref() {
        Some(image) => split_tag(image),
        None => (format!("{}/{}", input.stack, input.name), None),
    };
    if repository.contains('@') {
        errors.push(
            format!("{}.image", input.path),
            "with build, image is the repository the built image is tagged into: remove the @digest",
        );
    }
    let tag = input
        .options
        .build_tags
        .get(input.name)
        .cloned()
        .or(written_tag)
        .unwrap_or_else(|| UNBUILT_TAG.to_string());
    if !text::is_tag(&tag) {
        errors.push(
            format!("{}.image", input.path),
            format!("{tag:?} is not an image tag; leave the tag out and devstack derives it from the build's content"),
        );
    }
    format!("{repository}:{tag}")
}

/// The repository a `build` service's image is tagged into, as the spec says it (registry
/// mirror not applied): `image` without its tag, or `<stack>/<service>`.
pub fn build_repository(stack: &str, service: &str, image: Option<&str>) -> String {
    match image {
        Some(image) => split_tag(image).0,
        None => format!("{stack}/{service}"),
    }
}

/// `repo:tag` split at the tag's colon (a colon before the last `/` is a registry port).
fn split_tag(image: &str) -> (String, Option<String>) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            Some(image[slash + i + 1..].to_string()),
        ),
        None => (image.to_string(), None),
    }
}

/// The inner loop of `input`, checked: `image` is its final reference; neither a mount nor a
/// sync may cover the persisted paths of `workload`.
pub(super) fn plan(
    input: &ServiceInput,
    image: &str,
    workload: &Workload,
    errors: &mut ValidationErrors,
) -> DevLoop {
    let data_paths: Vec<&str> = match workload {
        Workload::Stateful { volumes, .. } => {
            volumes.iter().map(|v| v.mount_path.as_str()).collect()
        }
        Workload::Stateless { .. } => Vec::new(),
    };
    let spec = input.spec;
    let path = input.path.as_str();
    if spec.type_.is_some() {
        for (field, set) in [
            ("build", spec.build.is_some()),
            ("mounts", !spec.mounts.is_empty()),
            ("sync", !spec.sync.is_empty()),
        ] {
            if set {
                errors.push(
                    format!("{path}.{field}"),
                    format!("{field} applies to image services (your own container); remove it from this catalog service"),
                );
            }
        }
        return DevLoop::default();
    }
    let base = input.options.base_dir.as_deref();
    let pullable = input.registry.is_some_and(|r| !r.is_empty());
    let build = build(spec, image, base, pullable, path, errors);
    let mut targets: Vec<(String, String)> = Vec::new();
    let mounts = spec
        .mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let field = format!("{path}.mounts[{i}]");
            let source = host_path(&m.source, base, &format!("{field}.source"), errors);
            let target = container_path(&m.target, &format!("{field}.target"), errors);
            targets.push((format!("{field}.target"), target.clone()));
            MountPlan {
                source,
                target,
                read_only: m.read_only.unwrap_or(false),
            }
        })
        .collect();
    let sync = spec
        .sync
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let field = format!("{path}.sync[{i}]");
            let source = host_path(&s.source, base, &format!("{field}.source"), errors);
            let target = container_path(&s.target, &format!("{field}.target"), errors);
            targets.push((format!("{field}.target"), target.clone()));
            let mut ignore: Vec<String> = ALWAYS_IGNORED.iter().map(|s| s.to_string()).collect();
            ignore.extend(s.ignore.iter().filter(|p| !p.trim().is_empty()).cloned());
            SyncPlan {
                source,
                target,
                ignore,
                restart: s.restart.unwrap_or(false),
            }
        })
        .collect();
    check_targets(&targets, &data_paths, errors);
    DevLoop {
        build,
        mounts,
        sync,
    }
}

fn build(
    spec: &ServiceSpec,
    image: &str,
    base: Option<&Path>,
    pullable: bool,
    path: &str,
    errors: &mut ValidationErrors,
) -> Option<BuildPlan> {
    let build = spec.build.as_ref()?;
    let field = format!("{path}.build");
    let context = host_path(&build.context, base, &format!("{field}.context"), errors);
    let dockerfile = build.dockerfile.as_deref().unwrap_or("Dockerfile");
    let inside = normalize(Path::new(dockerfile));
    let escapes = Path::new(dockerfile).is_absolute()
        || inside.components().next() == Some(Component::ParentDir)
        || inside.as_os_str().is_empty();
    if escapes {
        errors.push(
            format!("{field}.dockerfile"),
            format!("{dockerfile:?} is outside the build context {:?}: give the Dockerfile's path inside the context, or widen the context to a directory that holds it", build.context),
        );
    }
    for key in build
        .args
        .keys()
        .filter(|k| k.is_empty() || k.contains('='))
    {
        errors.push(
            format!("{field}.args"),
            format!("{key:?} is not a build argument name; use the ARG name of the Dockerfile"),
        );
    }
    let (repository, tag) = split_tag(image);
    Some(BuildPlan {
        context,
        dockerfile: inside.to_string_lossy().into_owned(),
        target: build.target.clone().filter(|t| !t.is_empty()),
        args: build.args.clone(),
        repository,
        tag: tag.unwrap_or_else(|| UNBUILT_TAG.to_string()),
        pullable,
    })
}

/// A host path resolved against `base` (kept relative when there is none), `.`/`..` folded.
fn host_path(
    source: &str,
    base: Option<&Path>,
    field: &str,
    errors: &mut ValidationErrors,
) -> String {
    if source.trim().is_empty() {
        errors.push(
            field,
            "must name a host path (relative to the stack file, for example ./src)",
        );
        return String::new();
    }
    let joined = match base {
        Some(base) => base.join(source),
        None => PathBuf::from(source),
    };
    let normal = normalize(&joined);
    if normal.as_os_str().is_empty() {
        ".".to_string()
    } else {
        normal.to_string_lossy().into_owned()
    }
}

/// A container path: absolute, not `/`, without `..`.
fn container_path(target: &str, field: &str, errors: &mut ValidationErrors) -> String {
    let path = Path::new(target);
    let normal = normalize(path);
    if !path.is_absolute() || normal == Path::new("/") || target.contains(':') {
        errors.push(
            field,
            format!("{target:?} must be an absolute path in the container other than / (for example /app/src)"),
        );
    } else if path.components().any(|c| c == Component::ParentDir) {
        errors.push(
            field,
            format!("{target:?} must not contain '..'; write the path it means"),
        );
    }
    normal.to_string_lossy().into_owned()
}

/// Targets are unique, and none covers or lies under a persisted path.
fn check_targets(targets: &[(String, String)], data_paths: &[&str], errors: &mut ValidationErrors) {
    for (i, (field, target)) in targets.iter().enumerate() {
        if targets[..i].iter().any(|(_, t)| t == target) {
            errors.push(
                field.as_str(),
                format!("{target} is already the target of another mount or sync; give each its own path"),
            );
        }
        let t = Path::new(target);
        if let Some(data) = data_paths
            .iter()
            .find(|d| t.starts_with(d) || Path::new(d).starts_with(t))
        {
            errors.push(
                field.as_str(),
                format!("{target} overlaps the data path {data}, which holds the service's persisted data; choose a path outside it"),
            );
        }
    }
}

/// `path` with `.` dropped and `..` folded into its parent (a leading `..` of a relative path
/// stays; `/..` is `/`). No file system access.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
#[path = "devloop_tests.rs"]
mod tests;
