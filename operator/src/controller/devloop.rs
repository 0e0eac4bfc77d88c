//! The inner loop as the operator sees it. It cannot build: a `build` service's image is
//! loaded onto the nodes by `devstack build` / `devstack apply`, and a pod whose image is not
//! there is reported as "not built" (instead of a pod stuck in `ErrImageNeverPull` with no
//! explanation). Host `mounts` become `hostPath` volumes only under the host path prefixes the
//! operator was started with (`--allow-host-path`; none by default: a hostPath is a privilege
//! on a shared cluster); otherwise the stack is refused with a status saying why.

use std::path::Path;

use devstack_core::plan::{normalize, StackPlan};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::write::Writer;

/// Waiting reasons of a container whose image the node does not have and must not pull.
const NOT_ON_NODE: [&str; 3] = ["ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff"];

/// Every host mount of an active service that the allow-list does not permit, as one message
/// per mount naming the field and the fix; `None` when all are permitted.
pub(crate) fn refused_host_paths(plan: &StackPlan, allowed: &[String]) -> Option<String> {
    let mut refused = Vec::new();
    for service in plan.active_services() {
        for (i, mount) in service.mounts.iter().enumerate() {
            let field = format!("spec.services.{}.mounts[{i}].source", service.name);
            let source = Path::new(&mount.source);
            let reason = if !source.is_absolute() {
                Some(format!("{} is relative: the operator cannot resolve it; apply the stack with `devstack apply`, which makes mount sources absolute", mount.source))
            } else if allowed.is_empty() {
                Some(format!("hostPath {} refused: this operator allows no host paths (start it with --allow-host-path PREFIX, chart value allowedHostPaths; off by default because a hostPath is a privilege on a shared cluster)", mount.source))
            } else if !allowed
                .iter()
                .any(|p| normalize(source).starts_with(normalize(Path::new(p))))
            {
                Some(format!("hostPath {} refused: not under an allowed prefix ({}); move the data there or ask the operator's admin to allow it", mount.source, allowed.join(", ")))
            } else {
                None
            };
            if let Some(reason) = reason {
                refused.push(format!("{field}: {reason}"));
            }
        }
    }
    (!refused.is_empty()).then(|| refused.join("\n"))
}

/// Why the pods of `deployment` (as wanted: the cache keeps no pod template) do not start when its image is a local build that is not on
/// the node: `image <ref> not built — run devstack apply`.
pub(crate) async fn image_not_built(
    writer: &Writer<'_>,
    deployment: &Deployment,
) -> Option<String> {
    let spec = &deployment.spec;
    let container = spec.template.spec.as_ref()?.containers.first()?;
    if container.image_pull_policy.as_deref() != Some("Never") {
        return None;
    }
    let selector = spec
        .selector
        .match_labels
        .as_ref()?
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = Api::<Pod>::namespaced(writer.client().clone(), writer.namespace())
        .list(&ListParams::default().labels(&selector))
        .await
        .ok()?;
    let missing = pods.items.iter().any(|pod| {
        pod.status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
            .any(|reason| NOT_ON_NODE.contains(&reason))
    });
    missing.then(|| {
        format!(
            "image {} not built — run devstack apply",
            container.image.as_deref().unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn host_mounts_need_an_absolute_allowed_prefix() {
        let plan = plan_spec(
            "services:\n  api:\n    image: a:1\n    mounts: [{source: /srv/docs/team, target: /mnt/docs}, {source: ./rel, target: /rel}]\n",
        );
        let none = refused_host_paths(&plan, &[]).expect("refused");
        assert!(none.contains("spec.services.api.mounts[0].source: hostPath /srv/docs/team refused: this operator allows no host paths"), "{none}");
        assert!(
            none.contains("spec.services.api.mounts[1].source: rel is relative"),
            "{none}"
        );
        let other = refused_host_paths(&plan, &["/data".to_string()]).expect("refused");
        assert!(
            other.contains("not under an allowed prefix (/data)"),
            "{other}"
        );
        let allowed = refused_host_paths(&plan, &["/srv/docs/".to_string()]).expect("one left");
        assert!(
            !allowed.contains("mounts[0]") && allowed.contains("mounts[1]"),
            "{allowed}"
        );
        let sneaky = plan_spec("services:\n  api:\n    image: a:1\n    mounts: [{source: /srv/docs/../../etc, target: /x}]\n");
        assert!(refused_host_paths(&sneaky, &["/srv/docs".to_string()]).is_some());
        let clean = plan_spec("services:\n  api: {image: a:1}\n");
        assert_eq!(refused_host_paths(&clean, &[]), None);
    }
}
