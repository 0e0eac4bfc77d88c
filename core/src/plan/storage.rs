//! `storage` of an image service: its own data paths (`path`, a volume named `data`, or several
//! named `volumes`), which make it stateful exactly like a catalog service with data: one
//! instance, a StatefulSet with a claim per path in Kubernetes, named volumes in Docker, kept
//! on delete unless `retainOnDelete: false`, wiped by reset. A catalog service's data paths come
//! from the catalog, so `path` and `volumes` are errors there.

use super::files::{container_path, is_under};
use super::model::{VolumePlan, Workload};
use super::resources;
use crate::conventions::is_dns_label;
use crate::error::ValidationErrors;
use crate::types::ServiceSpec;

/// Name of the volume of `storage.path`.
pub const DEFAULT_VOLUME: &str = "data";

/// The workload of an image service: stateful when it has `storage`, else `replicas`
/// stateless instances.
pub(super) fn custom_workload(
    spec: &ServiceSpec,
    replicas: u32,
    path: &str,
    errors: &mut ValidationErrors,
) -> Workload {
    let Some(storage) = &spec.storage else {
        return Workload::Stateless { replicas };
    };
    let field = format!("{path}.storage");
    if spec.replicas.is_some_and(|r| r != 1) {
        errors.push(
            format!("{path}.replicas"),
            "a service with storage keeps data: it runs exactly one replica; remove replicas or storage",
        );
    }
    let named: Vec<(String, String, String)> = match (&storage.path, storage.volumes.as_slice()) {
        (Some(p), []) => vec![(DEFAULT_VOLUME.into(), p.clone(), format!("{field}.path"))],
        (None, []) => {
            errors.push(
                &field,
                "an image service's storage needs the data path in the container: set path (for example /app/data) or volumes",
            );
            Vec::new()
        }
        (Some(_), _) => {
            errors.push(
                &field,
                "set path (one data path) or volumes (several), not both",
            );
            Vec::new()
        }
        (None, volumes) => volumes
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v.name.clone(),
                    v.path.clone(),
                    format!("{field}.volumes[{i}]"),
                )
            })
            .collect(),
    };
    check(&named, errors);
    let size_bytes = resources::storage_bytes(spec, path, errors);
    Workload::Stateful {
        volumes: named
            .into_iter()
            .map(|(name, mount_path, _)| VolumePlan {
                name,
                mount_path,
                size_bytes,
            })
            .collect(),
        retain_on_delete: storage.retain_on_delete.unwrap_or(true),
    }
}

fn check(named: &[(String, String, String)], errors: &mut ValidationErrors) {
    for (i, (name, mount, field)) in named.iter().enumerate() {
        if !is_dns_label(name, 63) {
            errors.push(
                format!("{field}.name"),
                "not a volume name: a DNS label (lowercase letters, digits, '-', starting with a letter)",
            );
        }
        if let Err(why) = container_path(mount) {
            errors.push(
                format!("{field}.path"),
                why.replace("a file path", "a data path"),
            );
        }
        let earlier = &named[..i];
        if earlier.iter().any(|(n, _, _)| n == name) {
            errors.push(
                format!("{field}.name"),
                format!("volume {name:?} is named twice; give each its own name"),
            );
        }
        if let Some((_, other, _)) = earlier
            .iter()
            .find(|(_, p, _)| is_under(mount, p) || is_under(p, mount))
        {
            errors.push(
                format!("{field}.path"),
                format!(
                    "overlaps the data path {other}; list paths that do not contain each other"
                ),
            );
        }
    }
}

/// A catalog service's `storage` may size and retain its data, not place it.
pub(super) fn catalog_only_sizes(
    spec: &ServiceSpec,
    type_name: &str,
    path: &str,
    errors: &mut ValidationErrors,
) {
    let Some(storage) = &spec.storage else { return };
    if storage.path.is_some() || !storage.volumes.is_empty() {
        errors.push(
            format!("{path}.storage"),
            format!("the catalog decides where {type_name} keeps its data; remove path and volumes (size and retainOnDelete apply)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::model::{VolumePlan, Workload};
    use crate::plan::tests::{errors_of, plan_of};

    #[test]
    fn an_image_service_with_storage_is_stateful() {
        let plan = plan_of(concat!(
            "web: {image: w:1, storage: {size: 2Gi, path: /app/data}}\n",
            "multi: {image: m:1, storage: {retainOnDelete: false, volumes: [{name: data, path: /data}, {name: logs, path: /var/log/app}]}}\n",
        ));
        let web = &plan.services["web"];
        assert_eq!(
            web.workload,
            Workload::Stateful {
                volumes: vec![VolumePlan {
                    name: "data".into(),
                    mount_path: "/app/data".into(),
                    size_bytes: 2 << 30
                }],
                retain_on_delete: true
            }
        );
        let multi = &plan.services["multi"];
        assert_eq!(multi.volumes().len(), 2);
        assert_eq!(multi.volumes()[1].name, "logs");
        assert!(multi.is_stateful() && !multi.retains_data());
        assert_eq!(multi.replicas(), 1);
    }

    #[test]
    fn storage_mistakes_name_the_field() {
        let errors = errors_of(concat!(
            "a: {image: a:1, storage: {size: 1Gi}}\n",
            "b: {image: b:1, replicas: 2, storage: {path: /data}}\n",
            "c: {image: c:1, storage: {volumes: [{name: Data, path: data}, {name: x, path: /d}, {name: x, path: /d/e}]}}\n",
            "d: {type: postgres, storage: {path: /x}}\n",
            "e: {image: e:1, storage: {path: /data}, files: {/data/conf: {content: x}}}\n",
        ));
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.services.a.storage",
                "spec.services.b.replicas",
                "spec.services.c.storage.volumes[0].name",
                "spec.services.c.storage.volumes[0].path",
                "spec.services.c.storage.volumes[2].name",
                "spec.services.c.storage.volumes[2].path",
                "spec.services.d.storage",
                "spec.services.e.files./data/conf",
            ],
            "{errors}"
        );
        assert!(errors.0[0].message.contains("set path"));
    }
}
