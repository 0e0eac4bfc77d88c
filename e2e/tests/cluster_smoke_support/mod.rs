//! Objects and waits the smoke tests of `cluster_smoke.rs` share: labels and metadata, a pod
//! template and a Deployment for the kwok node, readiness and deletion polls.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use devstack_e2e::poll_until;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{ListParams, ObjectMeta};
use kube::{Api, Resource};

pub(crate) const TIMEOUT: Duration = Duration::from_secs(90);
pub(crate) const NODE: &str = "devstack-kwok-0";
pub(crate) const IMAGE: &str = "registry.k8s.io/pause:3.10";

pub(crate) fn labels(app: &str) -> BTreeMap<String, String> {
    [("app".to_string(), app.to_string())].into()
}

pub(crate) fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

pub(crate) fn pod_template(app: &str, mounts: Option<Vec<VolumeMount>>) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(app)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some(IMAGE.into()),
                volume_mounts: mounts,
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

pub(crate) fn deployment(name: &str, replicas: i32) -> Deployment {
    Deployment {
        metadata: meta(name),
        spec: DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels(name)),
                ..LabelSelector::default()
            },
            template: pod_template(name, None),
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

pub(crate) fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until `count` pods labelled `app=<app>` exist, all Ready and on the kwok node.
pub(crate) async fn wait_pods_ready(pods: &Api<Pod>, app: &str, count: usize) -> Result<Vec<Pod>> {
    let lp = ListParams::default().labels(&format!("app={app}"));
    poll_until(
        &format!("{count} ready pods app={app} on {NODE}"),
        TIMEOUT,
        || {
            let pods = pods.clone();
            let lp = lp.clone();
            async move {
                let list = pods.list(&lp).await?.items;
                let ok = list.len() == count
                    && list.iter().all(|p| {
                        pod_ready(p)
                            && p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE)
                            && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    });
                Ok(ok.then_some(list))
            }
        },
    )
    .await
}

pub(crate) async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    devstack_e2e::poll_until_gone(api, name, TIMEOUT).await
}
