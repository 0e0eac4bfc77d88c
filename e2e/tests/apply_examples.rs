//! The rendering of every example is accepted by a real API server: each example is
//! server-side applied (field manager `devstack`, forced, as the operator applies) into a
//! fresh namespace, then applied again to check that a second apply changes nothing (no
//! spurious rollouts when the operator reconciles).
//!
//! Needs the local control plane: `e2e/cluster.sh up && KUBECONFIG=$(e2e/cluster.sh
//! kubeconfig) cargo test -p devstack-e2e --test apply_examples`. Without a cluster it
//! fails; it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use devstack_core::test_support as fixtures;

use std::fmt::Debug;

use anyhow::{anyhow, Context, Result};
use devstack_e2e::TestNamespace;
use devstack_render_k8s::K8sObject;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EmptyDirVolumeSource, Namespace, Pod, PodSpec, Secret, Service, Volume,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

async fn apply_one<K>(ns: &TestNamespace, object: &K) -> Result<K>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    <K as Resource>::DynamicType: Default,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let params = PatchParams::apply("devstack").force();
    ns.api::<K>()
        .patch(&name, &params, &Patch::Apply(object))
        .await
        .with_context(|| format!("applying {} {name}", K::kind(&Default::default())))
}

/// Applies `object` and returns the server's `metadata.generation` (workloads) or 0.
async fn apply(ns: &TestNamespace, object: &K8sObject) -> Result<i64> {
    Ok(match object {
        K8sObject::Secret(o) => apply_one::<Secret>(ns, o).await.map(|_| 0)?,
        K8sObject::ConfigMap(o) => apply_one::<ConfigMap>(ns, o).await.map(|_| 0)?,
        K8sObject::NetworkPolicy(o) => apply_one::<NetworkPolicy>(ns, o).await.map(|_| 0)?,
        K8sObject::Service(o) => {
            let applied = apply_one::<Service>(ns, o).await?;
            // Node ports are the ones the plan gave the host ports (inside 30000-32767).
            let want = o
                .spec
                .as_ref()
                .and_then(|s| s.ports.clone())
                .unwrap_or_default();
            let got = applied.spec.and_then(|s| s.ports).unwrap_or_default();
            for (w, g) in want.iter().zip(&got) {
                if w.node_port.is_some() && w.node_port != g.node_port {
                    return Err(anyhow!(
                        "Service {}: node port {:?} became {:?}",
                        object.name(),
                        w.node_port,
                        g.node_port
                    ));
                }
            }
            0
        }
        K8sObject::Deployment(o) => {
            let applied = apply_one::<Deployment>(ns, o).await?;
            applied.metadata.generation.unwrap_or_default()
        }
        K8sObject::StatefulSet(o) => {
            let applied = apply_one::<StatefulSet>(ns, o).await?;
            applied.metadata.generation.unwrap_or_default()
        }
    })
}

/// Deletes the Services first: node ports are cluster-wide, and the next example may publish
/// the same host port.
async fn release_node_ports(ns: &TestNamespace, objects: &[K8sObject]) -> Result<()> {
    let api = ns.api::<Service>();
    for object in objects.iter().filter(|o| o.kind() == "Service") {
        let _ = api.delete(object.name(), &DeleteParams::foreground()).await;
        devstack_e2e::poll_until_gone(&api, object.name(), std::time::Duration::from_secs(30))
            .await?;
    }
    Ok(())
}

async fn apply_example(name: &str, text: &str) -> Result<()> {
    let mut plan = fixtures::plan_example(name, text).map_err(|e| anyhow!(e))?;
    let ns = TestNamespace::on_kwok(&format!("apply-{name}")).await?;
    plan.namespace = Some(ns.name().to_string());
    let objects = devstack_render_k8s::render(&plan, Some(&fixtures::fake_secrets(&plan)))?;
    // Every object is applied even after a rejection, so one run lists every problem.
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for object in &objects {
        match apply(&ns, object).await {
            Ok(generation) => accepted.push((object, generation)),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    for (object, before) in accepted {
        match apply(&ns, object).await {
            Ok(after) if after == before => {}
            Ok(after) => errors.push(format!(
                "{} {}: a second identical apply bumped the generation {before} -> {after}",
                object.kind(),
                object.name()
            )),
            Err(e) => errors.push(format!("second apply: {e:#}")),
        }
    }
    if let Err(e) = release_node_ports(&ns, &objects).await {
        errors.push(format!("{e:#}"));
    }
    ns.cleanup().await?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(errors.join("\n")))
    }
}

#[tokio::test]
async fn every_example_is_accepted_by_the_api_server() {
    let examples = fixtures::examples();
    assert!(!examples.is_empty(), "no examples/*.yaml found");
    let mut failures = Vec::new();
    for (name, text) in &examples {
        if let Err(e) = apply_example(name, text).await {
            failures.push(format!("{name}: {e:#}"));
        }
    }
    let hint = if failures
        .iter()
        .any(|f| f.contains("nodePort") && f.contains("valid range"))
    {
        "\n\nhint: host ports become node ports inside the node port range; the API server \
         must run with the same --service-node-port-range as devstack (default 30000-32767)"
    } else {
        ""
    };
    assert!(
        failures.is_empty(),
        "examples not accepted:\n{}{hint}",
        failures.join("\n\n")
    );
}

/// The pod of a workload as a bare Pod, data volumes replaced by emptyDirs (a Pod has no
/// claim templates), for admission checks.
fn bare_pod(object: &K8sObject) -> Option<Pod> {
    let template = match object {
        K8sObject::Deployment(d) => d.spec.template.clone(),
        K8sObject::StatefulSet(s) => s.spec.template.clone(),
        _ => return None,
    };
    let mut spec = template.spec?;
    let mut volumes = spec.volumes.take().unwrap_or_default();
    for mount in spec
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
    {
        if !volumes.iter().any(|v| v.name == mount.name) {
            volumes.push(Volume {
                name: mount.name.clone(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            });
        }
    }
    spec.volumes = Some(volumes);
    Some(Pod {
        metadata: ObjectMeta {
            name: Some(object.name().to_string()),
            labels: template.metadata.and_then(|m| m.labels),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    })
}

/// Security defaults: every service whose plan runs it as non-root (the catalog types that
/// allow it) is admitted by Pod Security Standards `restricted`, enforced by the API server,
/// and every service with host `mounts` (root or not) is refused for its hostPath volume.
#[tokio::test]
async fn non_root_services_meet_restricted_pod_security() {
    let ns = TestNamespace::on_kwok("pss-restricted").await.unwrap();
    let label = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    Api::<Namespace>::all(ns.client())
        .patch(ns.name(), &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    let pods = ns.api::<Pod>();

    // Enforcement is on: a pod with no security settings is rejected.
    let plain = Pod {
        metadata: ObjectMeta {
            name: Some("plain".into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "plain".into(),
                image: Some("registry.k8s.io/pause:3.10".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    assert!(
        pods.create(&PostParams::default(), &plain).await.is_err(),
        "the namespace does not enforce restricted"
    );

    let mut failures = Vec::new();
    let (mut checked, mut refused_for_host_path) = (0, 0);
    for (name, text) in fixtures::examples() {
        let mut plan = fixtures::plan_example(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        plan.namespace = Some(ns.name().to_string());
        let objects = devstack_render_k8s::render(&plan, None).unwrap();
        for object in &objects {
            let Some(mut pod) = bare_pod(object) else {
                continue;
            };
            let service = &plan.services[object.name()];
            // Host `mounts` are hostPath volumes, which `restricted` (and `baseline`) forbid,
            // whatever else the pod does: the documented price of a host mount (docs/dev-loop.md,
            // the chart's `allowedHostPaths`). Such a pod must be refused naming its hostPath;
            // every non-root pod without one must be admitted.
            let host_mounts = !service.mounts.is_empty();
            let non_root = service.security.run_as_non_root
                && service
                    .security
                    .add_capabilities
                    .iter()
                    .all(|c| c == "NET_BIND_SERVICE");
            if !non_root && !host_mounts {
                continue;
            }
            pod.metadata.name = Some(format!("{name}-{}", object.name()));
            checked += 1;
            let created = pods.create(&PostParams::default(), &pod).await;
            match (created, host_mounts) {
                (Ok(_), false) => {}
                (Err(e), true) if e.to_string().contains("hostPath") => refused_for_host_path += 1,
                (Ok(_), true) => failures.push(format!(
                    "{name}/{}: admitted with a hostPath volume",
                    object.name()
                )),
                (Err(e), _) => failures.push(format!("{name}/{}: {e}", object.name())),
            }
        }
    }
    ns.cleanup().await.unwrap();
    assert!(checked > 0, "no non-root service in the examples");
    assert!(
        failures.is_empty(),
        "rejected under restricted:\n{}",
        failures.join("\n")
    );
    assert!(
        refused_for_host_path > 0,
        "no example service with a host mount was checked (semantik's webui has one)"
    );
}
