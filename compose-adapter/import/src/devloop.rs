//! The inner loop and the data of an image service: Compose `build:` → `build`, bind-mounted
//! directories → `mounts` or `sync`, named volumes → `storage`.
//!
//! Rules (said in `docs/import.md` too):
//! - `build` keeps `context`, `dockerfile`, `target` and `args`; every other build key
//!   (`ssh`, `secrets`, `cache_from`, …) is reported. A remote context (a URL), a context or
//!   Dockerfile that does not exist on this machine, an inline Dockerfile or a Dockerfile
//!   outside the context cannot be carried: the build is dropped.
//! - A read-write bind of a directory that lies inside the service's build context is the
//!   source the team edits: it becomes `sync` (a bind mount on Docker, kept in sync by
//!   `devstack dev` on Kubernetes). Every other existing bind source becomes a `mounts` entry,
//!   read-only kept. A source that does not exist is dropped (Compose would create an empty
//!   directory there).
//! - Named volumes become `storage`: one volume `storage.path`, several `storage.volumes`
//!   named after the volumes. Anonymous volumes keep no data past the container: dropped.
//!
//! Host paths are written relative to the stack file ([`crate::files::source_path`]).

use std::collections::BTreeSet;

use devstack_core::types::{StorageSpec, StorageVolumeSpec};
use devstack_crds::devloop::{BuildSpec, MountSpec, SyncSpec};
use serde_json::Value;

use crate::files::source_path;
use crate::loss::LossReport;
use crate::model::{Mount, Service};
use crate::ImportOptions;

/// The build keys that carry over.
const BUILD_KEYS: [&str; 4] = ["context", "dockerfile", "target", "args"];

/// A service's build, when it can be carried: the spec and the absolute context.
pub struct Build {
    /// The spec, its context relative to the stack file.
    pub spec: BuildSpec,
    /// The context as Compose resolved it (absolute).
    pub context: String,
}

/// Maps `build` (Compose's long syntax, as `docker compose config` prints it).
pub fn build(
    name: &str,
    build: &Value,
    options: &ImportOptions,
    report: &mut LossReport,
) -> Option<Build> {
    let context = build.get("context").and_then(Value::as_str).unwrap_or("");
    let drop = |report: &mut LossReport, why: String, instead: &str| {
        report.dropped(name, "build", &why, instead);
        None
    };
    if !context.starts_with('/') {
        return drop(
            report,
            format!("build context {context:?} is not a directory on this machine (a URL or git repository)"),
            "clone it and point build.context at the directory",
        );
    }
    if build.get("dockerfile_inline").is_some_and(|v| !v.is_null()) {
        return drop(
            report,
            "an inline Dockerfile (dockerfile_inline)".into(),
            "write it to a Dockerfile in the context",
        );
    }
    let dockerfile = build
        .get("dockerfile")
        .and_then(Value::as_str)
        .map(|d| match d.strip_prefix(&format!("{context}/")) {
            Some(inside) => inside.to_string(),
            None => d.to_string(),
        })
        .filter(|d| d != "Dockerfile" && !d.is_empty());
    if let Some(d) = &dockerfile {
        if d.starts_with('/') || d.split('/').any(|p| p == "..") {
            return drop(
                report,
                format!("the Dockerfile {d} lies outside the build context {context}"),
                "move the Dockerfile into the context, or widen the context",
            );
        }
    }
    if !options.directories.contains(context) {
        return drop(
            report,
            format!("the build context {context} is not a directory on this machine"),
            "check out the sources there, then import again",
        );
    }
    let path = crate::files::dockerfile_path(context, build);
    if !options.existing.contains(&path) {
        return drop(
            report,
            format!("the Dockerfile {path} does not exist"),
            "check out the sources (or fix build.dockerfile), then import again",
        );
    }
    let args = args(name, build, report);
    other_keys(name, build, report);
    Some(Build {
        spec: BuildSpec {
            context: source_path(context, options),
            dockerfile,
            target: build
                .get("target")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(String::from),
            args,
        },
        context: context.to_string(),
    })
}

/// The build arguments with a value; an unset one is reported.
fn args(
    name: &str,
    build: &Value,
    report: &mut LossReport,
) -> std::collections::BTreeMap<String, String> {
    let mut args = std::collections::BTreeMap::new();
    if let Some(map) = build.get("args").and_then(Value::as_object) {
        for (key, value) in map {
            match value {
                Value::String(s) => {
                    args.insert(key.clone(), s.clone());
                }
                Value::Number(_) | Value::Bool(_) => {
                    args.insert(key.clone(), value.to_string());
                }
                _ => report.dropped(
                    name,
                    &format!("build.args.{key}"),
                    &format!("build argument {key} has no value (Compose left it unset)"),
                    "give it a value, or let the Dockerfile's ARG default apply",
                ),
            }
        }
    }
    args
}

/// Reports every build key besides context, dockerfile, target and args.
fn other_keys(name: &str, build: &Value, report: &mut LossReport) {
    if let Some(map) = build.as_object() {
        for (key, value) in map {
            if BUILD_KEYS.contains(&key.as_str()) || crate::common::is_empty(value) {
                continue;
            }
            report.dropped(
                name,
                &format!("build.{key}"),
                &format!(
                    "build.{key}: devstack builds with context, dockerfile, target and args only"
                ),
                "do it in the Dockerfile, or build the image yourself and set image",
            );
        }
    }
}

/// The host mounts, sync directories and storage of an image service.
#[derive(Default)]
pub struct Volumes {
    /// Host mounts.
    pub mounts: Vec<MountSpec>,
    /// Sync directories.
    pub sync: Vec<SyncSpec>,
    /// Named volumes as storage.
    pub storage: Option<StorageSpec>,
}

/// Maps the mounts of an image service (bind mounts of regular files are already files).
/// `context` is the build context (absolute) when the service is built.
pub fn volumes(
    name: &str,
    svc: &Service,
    context: Option<&str>,
    options: &ImportOptions,
    report: &mut LossReport,
) -> Volumes {
    let mut out = Volumes::default();
    let mut data: Vec<StorageVolumeSpec> = Vec::new();
    for mount in &svc.volumes {
        let key = format!("volumes.{}", mount.target);
        options_lost(name, &key, mount, report);
        match (mount.kind.as_str(), mount.source.as_deref()) {
            ("volume", Some(source)) => named(name, &key, source, mount, &mut data, report),
            ("volume", None) => anonymous(name, &key, mount, svc, report),
            ("bind", Some(source)) => bind(
                name, &key, source, mount, context, options, &mut out, report,
            ),
            ("tmpfs", _) => report.dropped(
                name,
                &key,
                "a tmpfs mount",
                "write to a path the image makes writable",
            ),
            (other, _) => report.dropped(name, &key, &format!("a {other} mount"), "none"),
        }
    }
    let replicas = svc.deploy.as_ref().and_then(|d| d.replicas);
    if let Some(r) = replicas.filter(|r| *r != 1 && !data.is_empty()) {
        for v in &data {
            report.dropped(
                name,
                &format!("volumes.{}", v.path),
                &format!("a service with storage runs exactly one replica; this one runs {r}"),
                "drop deploy.replicas to keep the data as storage, or keep the data in a catalog service",
            );
        }
        data.clear();
    }
    out.storage = match data.len() {
        0 => None,
        1 => Some(StorageSpec {
            path: data.pop().map(|v| v.path),
            ..StorageSpec::default()
        }),
        _ => Some(StorageSpec {
            volumes: data,
            ..StorageSpec::default()
        }),
    };
    out
}

/// An anonymous volume: dropped; under a bind mount it was a mask (the image's files at that
/// path, `node_modules` under the source directory), which the report says.
fn anonymous(name: &str, key: &str, mount: &Mount, svc: &Service, report: &mut LossReport) {
    let bind = svc
        .volumes
        .iter()
        .find(|m| m.kind == "bind" && m.target != mount.target && under(&mount.target, &m.target));
    match bind {
        Some(b) => report.dropped(
            name,
            key,
            &format!(
                "an anonymous volume under the bind mount at {}: in Compose it keeps the image's {} visible; without it the host directory's content shows there",
                b.target, mount.target
            ),
            "build the dependencies on the host too, or keep them outside the mounted directory",
        ),
        None => report.dropped(
            name,
            key,
            "an anonymous volume: data that lives as long as the container",
            "nothing to do, or name the volume to keep the data (it becomes storage)",
        ),
    }
}

/// A named volume: a data path of the service, unless it overlaps one already taken.
fn named(
    name: &str,
    key: &str,
    source: &str,
    mount: &Mount,
    data: &mut Vec<StorageVolumeSpec>,
    report: &mut LossReport,
) {
    let overlaps = |p: &str| under(&mount.target, p) || under(p, &mount.target);
    if let Some(other) = data.iter().find(|v| overlaps(&v.path)) {
        report.dropped(
            name,
            key,
            &format!(
                "volume {source} at {} overlaps the data path {}",
                mount.target, other.path
            ),
            "list data paths that do not contain each other",
        );
        return;
    }
    if data.len() >= devstack_core::limits::MAX_VOLUMES {
        report.dropped(
            name,
            key,
            &format!("volume {source}: more data paths than a service may have"),
            "merge them",
        );
        return;
    }
    let mut label = crate::names::label(source);
    let taken: BTreeSet<String> = data.iter().map(|v| v.name.clone()).collect();
    let mut n = 2;
    while taken.contains(&label) {
        label = format!("{}-{n}", crate::names::label(source));
        n += 1;
    }
    if mount.read_only == Some(true) {
        report.changed(
            name,
            key,
            &format!("volume {source} is read-only in Compose; storage is writable"),
            "nothing to do",
        );
    }
    data.push(StorageVolumeSpec {
        name: label,
        path: mount.target.clone(),
    });
}

/// A bind mount of a directory (or any path that is not a small regular file).
#[allow(clippy::too_many_arguments)]
fn bind(
    name: &str,
    key: &str,
    source: &str,
    mount: &Mount,
    context: Option<&str>,
    options: &ImportOptions,
    out: &mut Volumes,
    report: &mut LossReport,
) {
    if !options.existing.contains(source) {
        report.dropped(
            name,
            key,
            &format!(
                "the bind source {source} does not exist (Compose would create an empty directory)"
            ),
            "create it, then import again (it becomes a mount), or leave it out",
        );
        return;
    }
    let read_only = mount.read_only == Some(true);
    let edited = context.is_some_and(|c| under(source, c));
    if edited && !read_only && options.directories.contains(source) {
        out.sync.push(SyncSpec {
            source: source_path(source, options),
            target: mount.target.clone(),
            ..SyncSpec::default()
        });
        return;
    }
    out.mounts.push(MountSpec {
        source: source_path(source, options),
        target: mount.target.clone(),
        read_only: read_only.then_some(true),
    });
}

/// Mount options with no DevStack field: bind propagation and SELinux relabelling, volume
/// `nocopy` and `subpath`.
fn options_lost(name: &str, key: &str, mount: &Mount, report: &mut LossReport) {
    for (section, ignored) in [("bind", "create_host_path"), ("volume", "")] {
        let Some(map) = mount.other.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (option, value) in map {
            if option == ignored || crate::common::is_empty(value) || value == &Value::Bool(false) {
                continue;
            }
            report.dropped(
                name,
                &format!("{key}.{section}.{option}"),
                &format!("{section} option {option}: {value} has no DevStack field"),
                "none; the mount is made without it",
            );
        }
    }
}

/// Whether `path` is `dir` or lies inside it.
pub fn under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// Drops what the plan would refuse: a file, mount or sync at or under a data path (the data
/// path wins: it is what the service keeps), each reported.
pub fn settle(name: &str, spec: &mut devstack_core::types::ServiceSpec, report: &mut LossReport) {
    let Some(storage) = &spec.storage else {
        return;
    };
    let data: Vec<String> = storage
        .path
        .iter()
        .cloned()
        .chain(storage.volumes.iter().map(|v| v.path.clone()))
        .collect();
    let clash = |target: &str| {
        data.iter()
            .find(|d| under(target, d) || under(d, target))
            .cloned()
    };
    let mut lost = |target: &str, data: String| {
        report.dropped(
            name,
            &format!("volumes.{target}"),
            &format!("{target} overlaps the data path {data} (a named volume, now storage)"),
            "mount it at a path outside the data path",
        );
    };
    spec.files.retain(|path, _| match clash(path) {
        Some(d) => {
            lost(path, d);
            false
        }
        None => true,
    });
    spec.mounts.retain(|m| match clash(&m.target) {
        Some(d) => {
            lost(&m.target, d);
            false
        }
        None => true,
    });
    spec.sync.retain(|s| match clash(&s.target) {
        Some(d) => {
            lost(&s.target, d);
            false
        }
        None => true,
    });
}

/// Top-level volume options with no DevStack meaning (`driver`, `driver_opts`, `external`,
/// `labels`), and volumes several services share (each service gets its own storage).
pub fn project_volumes(project: &crate::model::Project, report: &mut LossReport) {
    for (volume, options) in &project.volumes {
        let Some(map) = options.as_object() else {
            continue;
        };
        for (key, value) in map {
            if key == "name" || crate::common::is_empty(value) || value == &Value::Bool(false) {
                continue;
            }
            let (detail, instead) = match key.as_str() {
                "external" => ("an external volume: devstack creates the service's own storage and does not use the existing data", "copy the data in after the first devstack up"),
                "driver" | "driver_opts" => ("the volume driver is the runtime's (a local volume in Docker, a PersistentVolumeClaim in Kubernetes)", "none; choose a StorageClass in the cluster"),
                _ => ("a volume option with no DevStack field", "none"),
            };
            report.add(
                None,
                format!("volumes.{volume}.{key}"),
                crate::LossKind::Dropped,
                detail,
                instead,
            );
        }
        let users: Vec<&String> = project
            .services
            .iter()
            .filter(|(_, s)| {
                s.volumes
                    .iter()
                    .any(|m| m.kind == "volume" && m.source.as_deref() == Some(volume))
            })
            .map(|(n, _)| n)
            .collect();
        if users.len() > 1 {
            let list: Vec<&str> = users.iter().map(|s| s.as_str()).collect();
            report.add(
                None,
                format!("volumes.{volume}"),
                crate::LossKind::Changed,
                format!("volume {volume} is shared by {}: each service gets its own storage, so they no longer see each other's data", list.join(", ")),
                "share data through a service (a database, an object store) instead of a volume",
            );
        }
    }
}
