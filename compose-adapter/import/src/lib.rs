//! `devstack import`: a Compose project → a [`DevStack`] and a [`LossReport`].
//!
//! The input is what `docker compose config --format json` prints: Compose itself is the
//! loader, so overlays are merged, `.env` and `env_file` interpolated and profiles applied
//! exactly as `docker compose up` would (see `docs/import.md` for why no Rust Compose model
//! crate is the loader). This crate is pure: JSON text in, a stack and a report out; the CLI
//! runs Compose and writes files.
//!
//! Modules: [`model`] (the Compose subset read, unknown keys kept for the report), [`image`]
//! (catalog recognition), [`catalog`] and [`custom`] (the two kinds of service), [`env`](mod@env),
//! [`ports`], [`health`], [`common`] (dependencies, deploy, pending fields, leftovers),
//! [`network`] (isolation), [`names`], [`extensions`] (`x-*` keys from the raw files),
//! [`loss`] (the report) and [`check`] (the round-trip comparison of `devstack import --check`).

use std::collections::BTreeMap;

use devstack_core::types::{DevStack, DevStackSpec, ServiceSpec};

pub mod catalog;
pub mod check;
pub mod common;
pub mod connections;
pub mod credentials;
pub mod custom;
pub mod devloop;
pub mod env;
pub mod extensions;
pub mod files;
pub mod health;
pub mod host_ports;
pub mod image;
pub mod loss;
pub mod model;
pub mod names;
pub mod network;
pub mod ports;

pub use loss::{Loss, LossKind, LossReport};

/// Why a project could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The text is not the JSON `docker compose config --format json` prints.
    #[error("not a Compose project as `docker compose config --format json` prints it: {0}")]
    Json(#[from] serde_json::Error),
    /// The project has no services.
    #[error("the Compose project has no services (with the profiles given): nothing to import")]
    NoServices,
    /// More services than a stack may hold.
    #[error("the Compose project has {count} services; a stack holds at most {limit}")]
    TooManyServices {
        /// Services in the project.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Stack name (`metadata.name`); the Compose project name otherwise.
    pub name: Option<String>,
    /// Profiles given to Compose (`--profile`), written as `spec.profiles`.
    pub profiles: Vec<String>,
    /// The raw Compose files' text, read only for `x-*` keys inside services.
    pub raw_files: Vec<String>,
    /// The directory the stack file goes to (absolute): file sources are written relative to
    /// it; absolute when unset.
    pub base_dir: Option<String>,
    /// The paths among [`files::candidates`] that are regular files (bind mounts of these and
    /// configs from them become `files`).
    pub regular_files: std::collections::BTreeSet<String>,
    /// The bind sources that exist on this machine (a bind of a missing source is dropped).
    pub existing: std::collections::BTreeSet<String>,
    /// The bind sources that are directories (a read-write bind of one inside the service's
    /// build context becomes `sync`).
    pub directories: std::collections::BTreeSet<String>,
}

/// The result of an import.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The stack.
    pub stack: DevStack,
    /// Every key that did not carry over unchanged.
    pub report: LossReport,
    /// Compose service name → DevStack service name.
    pub names: BTreeMap<String, String>,
    /// Why the isolation is what it is.
    pub isolation_reason: String,
}

/// Imports the project `json` (`docker compose config --format json` output).
pub fn import(json: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
    let project = model::parse(json)?;
    import_project(&project, options)
}

/// Imports a parsed project.
pub fn import_project(
    project: &model::Project,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    if project.services.is_empty() {
        return Err(ImportError::NoServices);
    }
    let limit = devstack_core::limits::MAX_SERVICES;
    if project.services.len() > limit {
        return Err(ImportError::TooManyServices {
            count: project.services.len(),
            limit,
        });
    }
    let mut report = LossReport::default();
    let stack_name = names::label(
        options
            .name
            .as_deref()
            .unwrap_or(if project.name.is_empty() {
                "imported"
            } else {
                &project.name
            }),
    );
    let names = names::Names::new(project.services.keys(), &mut report);
    let mut services = BTreeMap::new();
    for (compose_name, svc) in &project.services {
        let name = names.get(compose_name);
        let spec = service(
            &stack_name,
            project,
            compose_name,
            svc,
            &names,
            options,
            &mut report,
        );
        services.insert(name, spec);
    }
    let back: BTreeMap<String, String> = project
        .services
        .keys()
        .map(|k| (names.get(k), k.clone()))
        .collect();
    host_ports::settle(&mut services, &back, &mut report);
    project_keys(project, options, &mut report);
    let (isolation, isolation_reason) = network::isolation(project, &mut report);
    let mut stack = DevStack::new(
        &stack_name,
        DevStackSpec {
            profiles: options.profiles.clone(),
            isolation,
            image_registry: None,
            observability: None,
            services,
        },
    );
    connections::yield_to_dependencies(&mut stack, &back, &mut report);
    let forward: BTreeMap<String, String> =
        back.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
    credentials::map(project, &mut stack, &forward, &mut report);
    Ok(Imported {
        stack,
        report,
        names: project
            .services
            .keys()
            .map(|k| (k.clone(), names.get(k)))
            .collect(),
        isolation_reason,
    })
}

/// One service, catalog or custom, with the rules they share.
fn service(
    stack: &str,
    project: &model::Project,
    compose_name: &str,
    svc: &model::Service,
    names: &names::Names,
    options: &ImportOptions,
    report: &mut LossReport,
) -> ServiceSpec {
    // Bind mounts of regular files become files; the rest of the mounts go to the mapping.
    let mut svc = svc.clone();
    let mut files = files::from_configs(compose_name, &svc, project, options, report);
    svc.volumes.retain(|mount| {
        if mount.kind != "bind" {
            return true;
        }
        match files::from_bind(compose_name, mount, options, report) {
            Some((path, spec)) => {
                files.insert(path, spec);
                false
            }
            None => true,
        }
    });
    let svc = &svc;
    let build = svc
        .build
        .as_ref()
        .and_then(|b| devloop::build(compose_name, b, options, report));
    // A service built from a Dockerfile is the team's own, whatever image it names.
    let found = match &build {
        Some(_) => None,
        None => svc.image.as_deref().and_then(image::recognise),
    };
    let mut spec = match (&found, &build) {
        (Some(found), _) => catalog::map(stack, compose_name, svc, found, report),
        (None, Some(b)) => {
            let dev_name = names.get(compose_name);
            let image = built_image(stack, &dev_name, compose_name, svc.image.as_deref(), report);
            let mut spec = custom::map(compose_name, svc, image, report);
            spec.build = Some(b.spec.clone());
            spec
        }
        (None, None) => {
            let image = svc.image.clone().unwrap_or_else(|| {
                // A build-only service whose build cannot be carried: Compose names its
                // image <project>-<service>.
                let built = format!("{}-{compose_name}", names::label(&project.name));
                report.changed(
                    compose_name,
                    "image",
                    &format!("no image: runs {built}, the image `docker compose build` tags"),
                    "build it first (docker compose build)",
                );
                built
            });
            custom::map(compose_name, svc, Some(image), report)
        }
    };
    if found.is_none() {
        let context = build.as_ref().map(|b| b.context.as_str());
        let v = devloop::volumes(compose_name, svc, context, options, report);
        spec.mounts = v.mounts;
        spec.sync = v.sync;
        spec.storage = v.storage;
    }
    spec.profiles = svc.profiles.clone();
    spec.files = files;
    spec.depends_on = common::depends_on(compose_name, svc, names, report);
    if let Some(deploy) = &svc.deploy {
        common::deploy(compose_name, deploy, &mut spec, found.is_none(), report);
    }
    common::catalog_secrets(compose_name, svc, found.is_some(), report);
    devloop::settle(compose_name, &mut spec, report);
    common::leftovers(compose_name, &svc.other, found.is_some(), report);
    spec
}

/// The repository a built image is tagged into: `image` without its tag (devstack tags by
/// content), or devstack's `<stack>/<service>` when Compose named none.
fn built_image(
    stack: &str,
    dev_name: &str,
    name: &str,
    image: Option<&str>,
    report: &mut LossReport,
) -> Option<String> {
    let Some(image) = image else {
        report.changed(
            name,
            "image",
            &format!("built by devstack and tagged {stack}/{dev_name}:<content tag> (Compose tags <project>-{name})"),
            "nothing to do; set image to choose the repository",
        );
        return None;
    };
    let repository = devstack_core::plan::build_repository(
        stack,
        dev_name,
        Some(image.split('@').next().unwrap_or(image)),
    );
    report.changed(
        name,
        "image",
        &format!("built by devstack and tagged {repository}:<content tag> (Compose tags {image})"),
        "nothing to do",
    );
    Some(repository)
}

/// Project-level keys: extensions (top level and, from the raw files, in services), and
/// top-level sections whose entries the services' mapping reports.
fn project_keys(project: &model::Project, options: &ImportOptions, report: &mut LossReport) {
    devloop::project_volumes(project, report);
    for (key, value) in &project.other {
        if key == "name" || common::is_empty(value) {
            continue;
        }
        let (detail, instead) = if key.starts_with("x-") {
            (
                "extension key: Compose-only data (anchors are already expanded into the services)",
                "nothing to do",
            )
        } else {
            ("a top-level key with no DevStack meaning", "none")
        };
        report.add(None, key.clone(), LossKind::Dropped, detail, instead);
    }
    for text in &options.raw_files {
        for (service, key) in extensions::service_extensions(text) {
            if project.services.contains_key(&service) {
                report.dropped(
                    &service,
                    &key,
                    "extension key: Compose-only data",
                    "move what it means into the stack",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
