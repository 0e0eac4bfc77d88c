//! A service's files: one ConfigMap `<service>-files` holding every planned file under its
//! key (`data` for UTF-8 text, `binaryData` otherwise), one volume of it with each file's
//! mode (`items[].mode`), and one read-only `subPath` mount per file. The pod template carries
//! the files' digest ([`FILES_HASH`]), so a changed file rolls the pods (a `subPath` mount
//! never sees ConfigMap updates by itself).

use std::collections::BTreeMap;

use devstack_core::conventions::{files_config_map, ANNOTATION_FILES_HASH as FILES_HASH};
use devstack_core::plan::ServicePlan;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, Volume, VolumeMount,
};
use k8s_openapi::ByteString;

use super::labels::{object_meta, service_labels};
use super::Ctx;

/// Name of the files volume in the pod.
const VOLUME: &str = "files";

/// The ConfigMap of `service`'s files; `None` when it has none.
pub(crate) fn config_map(ctx: &Ctx, service: &ServicePlan) -> Option<ConfigMap> {
    if service.files.is_empty() {
        return None;
    }
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    for file in &service.files {
        if let Some(text) = file.text() {
            data.insert(file.key(), text.to_string());
        } else {
            binary.insert(file.key(), ByteString(file.bytes.clone()));
        }
    }
    Some(ConfigMap {
        metadata: object_meta(
            ctx,
            files_config_map(&service.name),
            service_labels(ctx, service),
        ),
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..ConfigMap::default()
    })
}

/// The pod volume of `service`'s ConfigMap and one read-only `subPath` mount per file.
pub(crate) fn volume_and_mounts(service: &ServicePlan) -> (Option<Volume>, Vec<VolumeMount>) {
    if service.files.is_empty() {
        return (None, Vec::new());
    }
    let items = service
        .files
        .iter()
        .map(|f| KeyToPath {
            key: f.key(),
            path: f.key(),
            mode: i32::try_from(f.mode).ok(),
            ..KeyToPath::default()
        })
        .collect();
    let volume = Volume {
        name: VOLUME.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: files_config_map(&service.name),
            items: Some(items),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mounts = service
        .files
        .iter()
        .map(|f| VolumeMount {
            name: VOLUME.to_string(),
            mount_path: f.path.clone(),
            sub_path: Some(f.key()),
            read_only: Some(true),
            ..VolumeMount::default()
        })
        .collect();
    (Some(volume), mounts)
}

/// The pod-template annotations of `service`: the files' digest, when it has files.
pub(crate) fn annotations(service: &ServicePlan) -> Option<BTreeMap<String, String>> {
    service
        .files_hash()
        .map(|hash| [(FILES_HASH.to_string(), hash)].into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    const STACK: &str = "services:\n  api:\n    image: a:1\n    files:\n      /etc/app/a.yaml: {content: \"a: 1\\n\"}\n      /etc/app/key: {content: k, mode: \"0600\"}\n  db: {type: pgvector}\n  web: {image: w:1}\n";

    #[test]
    fn files_become_a_config_map_mounted_read_only_with_sub_paths_and_modes() {
        let plan = plan_spec(STACK);
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let api = &plan.services["api"];
        let cm = config_map(&ctx, api).expect("api has files");
        assert_eq!(cm.metadata.name.as_deref(), Some("api-files"));
        let data = cm.data.expect("text files");
        let key = api.files[0].key();
        assert_eq!(data[&key], "a: 1\n");
        assert!(cm.binary_data.is_none());
        let (volume, mounts) = volume_and_mounts(api);
        let items = volume.unwrap().config_map.unwrap().items.unwrap();
        assert_eq!(items[1].mode, Some(0o600));
        assert_eq!(items[0].mode, Some(0o644));
        assert_eq!(mounts[0].mount_path, "/etc/app/a.yaml");
        assert_eq!(mounts[0].sub_path.as_deref(), Some(key.as_str()));
        assert_eq!(mounts[0].read_only, Some(true));
        assert!(annotations(api).unwrap()[FILES_HASH].len() == 32);
        let web = &plan.services["web"];
        assert!(config_map(&ctx, web).is_none());
        assert!(annotations(web).is_none());
        assert_eq!(volume_and_mounts(web), (None, Vec::new()));
    }
}
