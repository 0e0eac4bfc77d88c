//! The inner loop the Kubernetes way: a built image is pulled only from a registry (otherwise
//! `imagePullPolicy: Never`: `devstack build` loaded it onto the nodes, and a missing image is
//! reported as not built instead of retried); host `mounts` become `hostPath` volumes (the
//! operator refuses them unless its allow-list permits the path); `sync` targets become
//! `emptyDir` volumes that `devstack dev` fills through the exec API.

use devstack_core::plan::ServicePlan;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, HostPathVolumeSource, Volume, VolumeMount,
};

/// Name of the volume of mount `n`.
pub fn mount_volume(n: usize) -> String {
    format!("mount-{n}")
}

/// Name of the volume of sync directory `n`.
pub fn sync_volume(n: usize) -> String {
    format!("sync-{n}")
}

/// The pull policy of `service`'s image: `Never` for an image built and loaded locally.
pub(crate) fn pull_policy(service: &ServicePlan) -> Option<String> {
    let build = service.build.as_ref()?;
    Some(
        if build.pullable {
            "IfNotPresent"
        } else {
            "Never"
        }
        .to_string(),
    )
}

/// Adds the volumes of `service`'s mounts and sync directories to the pod and container.
pub(crate) fn add_volumes(
    service: &ServicePlan,
    volumes: &mut Vec<Volume>,
    container: &mut Container,
) {
    let mut mounts = Vec::new();
    for (n, m) in service.mounts.iter().enumerate() {
        volumes.push(Volume {
            name: mount_volume(n),
            host_path: Some(HostPathVolumeSource {
                path: m.source.clone(),
                type_: Some("Directory".to_string()),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: mount_volume(n),
            mount_path: m.target.clone(),
            read_only: m.read_only.then_some(true),
            ..VolumeMount::default()
        });
    }
    for (n, s) in service.sync.iter().enumerate() {
        volumes.push(Volume {
            name: sync_volume(n),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: sync_volume(n),
            mount_path: s.target.clone(),
            ..VolumeMount::default()
        });
    }
    if !mounts.is_empty() {
        container
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .extend(mounts);
    }
}

#[cfg(test)]
mod tests {
    use devstack_core::plan::{plan, PlanOptions};
    use devstack_core::test_support::{manifest, stack_yaml};

    use crate::{render, K8sObject};

    #[test]
    fn built_images_are_never_pulled_and_mounts_and_sync_become_volumes() {
        let stack = stack_yaml(&manifest(
            "demo",
            "services:\n  api:\n    build: {context: ./app}\n    mounts: [{source: /srv/docs, target: /mnt/docs, readOnly: true}]\n    sync: [{source: ./app/src, target: /app/src}]\n",
        ));
        let options = PlanOptions {
            base_dir: Some("/work/stack".into()),
            build_tags: [("api".to_string(), "c0ffee".to_string())].into(),
            ..PlanOptions::default()
        };
        let plan = plan(&stack, &options).expect("plans");
        let objects = render(&plan, None).expect("renders");
        let Some(K8sObject::Deployment(deployment)) =
            objects.iter().find(|o| o.kind() == "Deployment")
        else {
            panic!("no deployment");
        };
        let pod = deployment.spec.template.spec.clone().unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("demo/api:c0ffee"));
        assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
        let volumes = pod.volumes.as_ref().unwrap();
        let host = volumes[0].host_path.as_ref().unwrap();
        assert_eq!(
            (volumes[0].name.as_str(), host.path.as_str()),
            ("mount-0", "/srv/docs")
        );
        assert!(volumes[1].empty_dir.is_some());
        let mounts: Vec<(&str, &str, Option<bool>)> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
            .collect();
        assert_eq!(
            mounts,
            [
                ("mount-0", "/mnt/docs", Some(true)),
                ("sync-0", "/app/src", None)
            ]
        );
    }
}
