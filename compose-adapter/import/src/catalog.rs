//! A service whose image the catalog knows becomes `type` + `version`: its published ports
//! become `hostPorts` by the catalog's port names, a named volume on its data becomes
//! `storage`, its env meets the catalog's contract ([`crate::env::catalog`]); what the catalog
//! decides itself (command, health check, user, capabilities) is reported when the file set it.

use std::collections::BTreeMap;

use devstack_core::types::{ServiceSpec, StorageSpec};

use crate::image::CatalogMatch;
use crate::loss::LossReport;
use crate::model::Service;
use crate::ports;

/// Maps a catalog service.
pub fn map(
    stack: &str,
    name: &str,
    svc: &Service,
    found: &CatalogMatch,
    report: &mut LossReport,
) -> ServiceSpec {
    let entry = found.entry;
    let version = found
        .version
        .clone()
        .unwrap_or_else(|| entry.default_version.to_string());
    if let Some(note) = &found.note {
        report.changed(
            name,
            "image",
            note,
            "set version to the tag you need (the catalog's image repository is fixed)",
        );
    }
    let mut spec = ServiceSpec {
        type_: Some(entry.type_name.to_string()),
        version: found.version.clone(),
        ..ServiceSpec::default()
    };
    spec.host_ports = host_ports(name, svc, entry, report);
    spec.env = crate::env::catalog(stack, name, entry, &version, &svc.environment, report);
    let catalog_decides = "the catalog decides it for this type (identically in both runtimes)";
    if svc.entrypoint.as_ref().is_some_and(|c| !c.is_empty()) {
        report.dropped(
            name,
            "entrypoint",
            &format!("the catalog's entrypoint is kept: {catalog_decides}"),
            "use an image service if you need another entrypoint",
        );
    }
    if let Some(command) = svc.command.as_ref().filter(|c| !c.is_empty()) {
        report.dropped(
            name,
            "command",
            &format!("{:?}: the catalog's arguments are kept (they carry its password and data settings)", command.join(" ")),
            "set args to replace the catalog's arguments if you need these flags",
        );
    }
    if svc.healthcheck.is_some() {
        report.changed(
            name,
            "healthcheck",
            &format!("the catalog's health check replaces the file's: {catalog_decides}"),
            "nothing to do",
        );
    }
    volumes(name, svc, entry, &mut spec, report);
    alpine_postgres_user(name, svc, entry, report);
    spec
}

/// Alpine builds of postgres (and timescaledb's images, which are Alpine) run the server as
/// UID 70; the catalog's images use 999. Data created by the old container keeps UID 70.
fn alpine_postgres_user(
    name: &str,
    svc: &Service,
    entry: &devstack_core::catalog::CatalogEntry,
    report: &mut LossReport,
) {
    let image = svc.image.as_deref().unwrap_or_default();
    let postgres_family = ["postgres", "pgvector", "timescaledb"].contains(&entry.type_name);
    if postgres_family && (image.contains("alpine") || image.contains("timescale/")) {
        report.changed(
            name,
            "image",
            &format!("{image} runs postgres as UID 70 (Alpine); the catalog's image runs it as UID 999"),
            "data files written by the old container belong to UID 70: dump and restore (pg_dump), or chown them to 999 before reusing them",
        );
    }
}

fn host_ports(
    name: &str,
    svc: &Service,
    entry: &devstack_core::catalog::CatalogEntry,
    report: &mut LossReport,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for port in &svc.ports {
        let Some(catalog_port) = entry.ports.iter().find(|p| p.port == port.target) else {
            report.dropped(
                name,
                &format!("ports.{}", port.target),
                &format!(
                    "container port {} is not one of {}'s ports ({})",
                    port.target,
                    entry.type_name,
                    entry
                        .ports
                        .iter()
                        .map(|p| format!("{} {}", p.name, p.port))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "publish one of the catalog's ports with hostPorts",
            );
            continue;
        };
        if let Some(host) = ports::host_port(name, port, report) {
            out.insert(catalog_port.name.to_string(), host);
        }
    }
    out
}

fn volumes(
    name: &str,
    svc: &Service,
    entry: &devstack_core::catalog::CatalogEntry,
    spec: &mut ServiceSpec,
    report: &mut LossReport,
) {
    for mount in &svc.volumes {
        let key = format!("volumes.{}", mount.target);
        match (mount.kind.as_str(), entry.stateful) {
            ("volume", true) => {
                spec.storage = Some(StorageSpec::default());
                report.changed(
                    name,
                    &key,
                    &format!("volume {} at {}: becomes storage (the catalog's data paths, 1Gi unless size is set, retained on delete)", mount.source.as_deref().unwrap_or("(anonymous)"), mount.target),
                    "set storage.size; copy old data in with pg_dump or the service's own tool",
                );
            }
            ("volume", false) => report.dropped(
                name,
                &key,
                &format!("{} keeps no data in the catalog", entry.type_name),
                "none",
            ),
            ("bind", _) => report.dropped(
                name,
                &key,
                &format!(
                    "bind mount of the directory {} at {}: a catalog service takes files, not host mounts",
                    mount.source.as_deref().unwrap_or(""),
                    mount.target
                ),
                "list each file of the directory under files (for example init scripts under /docker-entrypoint-initdb.d/), or run the image as an image service",
            ),
            (other, _) => report.dropped(name, &key, &format!("a {other} mount"), "none"),
        }
    }
}
