//! The `files` aspect read back from both renderings: the container paths mounted read-only
//! as files, and the digest of their paths, modes and bytes
//! ([`devstack_core::plan::files_hash`]). Kubernetes: recomputed from the ConfigMap's data,
//! the volume's item modes and the `subPath` mounts, so the rendered objects themselves are
//! checked. Compose: the bind mounts' targets and the service's files-digest label, which
//! the Docker side writes the files from.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::ANNOTATION_FILES_HASH;
use devstack_core::plan::{files_hash, PlannedFile, DEFAULT_FILE_MODE};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec};
use serde_json::Value;

/// The files of a Kubernetes container: (paths, digest) from its `subPath` mounts of
/// ConfigMap volumes, with the bytes from `config_maps` (by name).
pub(crate) fn k8s(
    pod: &PodSpec,
    container: &Container,
    config_maps: &BTreeMap<String, ConfigMap>,
) -> (BTreeSet<String>, Option<String>) {
    let mut planned = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let Some(key) = &mount.sub_path else { continue };
        let Some(source) = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .and_then(|v| v.config_map.as_ref())
        else {
            continue;
        };
        let map = config_maps.get(&source.name);
        let bytes = map
            .and_then(|m| m.data.as_ref()?.get(key).map(|t| t.as_bytes().to_vec()))
            .or_else(|| map.and_then(|m| m.binary_data.as_ref()?.get(key).map(|b| b.0.clone())))
            .unwrap_or_default();
        let mode = source
            .items
            .iter()
            .flatten()
            .find(|i| &i.key == key)
            .and_then(|i| i.mode)
            .or(source.default_mode)
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(DEFAULT_FILE_MODE);
        let read_only = mount.read_only == Some(true);
        let path = if read_only {
            mount.mount_path.clone()
        } else {
            format!("{} (writable)", mount.mount_path)
        };
        planned.push(PlannedFile::generated(path, bytes, mode, "read back"));
    }
    let paths = planned.iter().map(|f| f.path.clone()).collect();
    (paths, files_hash(&planned))
}

/// The files of a Compose service: (paths, digest) from its bind mounts and its label.
pub(crate) fn compose(service: &Value) -> (BTreeSet<String>, Option<String>) {
    let paths = service
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("bind"))
        .filter_map(|v| {
            let target = v.get("target")?.as_str()?;
            let read_only = v.get("read_only").and_then(Value::as_bool) == Some(true);
            Some(if read_only {
                target.to_string()
            } else {
                format!("{target} (writable)")
            })
        })
        .collect();
    let hash = service
        .get("labels")
        .and_then(|l| l.get(ANNOTATION_FILES_HASH))
        .and_then(Value::as_str)
        .map(str::to_string);
    (paths, hash)
}

/// The bind mounts of a running container as Compose volume entries (`target`, `read_only`),
/// which [`compose`] reads back as the service's files.
pub(crate) fn live_binds<'a>(
    mounts: impl Iterator<Item = &'a bollard::models::MountPoint> + 'a,
) -> impl Iterator<Item = Value> + 'a {
    mounts
        .filter(|m| m.typ.as_deref() == Some("bind"))
        .filter_map(|m| {
            let target = m.destination.as_deref()?;
            Some(serde_json::json!({"type": "bind", "target": target, "read_only": m.rw == Some(false)}))
        })
}

/// Whether a Compose volume entry is one of the service's files (not persisted data).
pub(crate) fn is_file_mount(volume: &Value) -> bool {
    volume.get("type").and_then(Value::as_str) == Some("bind")
}

#[cfg(test)]
mod live_tests {
    use bollard::models::MountPoint;

    use super::*;

    #[test]
    fn running_bind_mounts_read_back_as_the_services_files() {
        let mounts = [
            MountPoint {
                typ: Some("bind".into()),
                destination: Some("/etc/prometheus/prometheus.yml".into()),
                rw: Some(false),
                ..MountPoint::default()
            },
            MountPoint {
                typ: Some("volume".into()),
                destination: Some("/prometheus".into()),
                rw: Some(true),
                ..MountPoint::default()
            },
        ];
        let service = serde_json::json!({
            "volumes": live_binds(mounts.iter()).collect::<Vec<_>>(),
            "labels": {ANNOTATION_FILES_HASH: "abc"},
        });
        let (paths, hash) = compose(&service);
        assert_eq!(
            paths.into_iter().collect::<Vec<_>>(),
            ["/etc/prometheus/prometheus.yml"]
        );
        assert_eq!(hash.as_deref(), Some("abc"));
    }
}
