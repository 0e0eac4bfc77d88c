//! Every example reaches Ready through `kubectl wait`, and what the operator created equals
//! `devstack render k8s` of the same file (metadata aside; the Secrets are compared with the
//! credentials the operator generated). The harness's kwok node offers `nvidia.com/gpu`, so
//! GPU services keep their GPUs; with the GPUs taken off the node, the optional ones equal
//! `devstack render k8s --gpu-fallback` and the status says they run on CPU.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use devstack_core::plan::{plan, PlanOptions};
use devstack_core::DevStack;
use devstack_e2e::TestNamespace;
use devstack_render_k8s::K8sObject;
use devstack_render_k8s::RenderOptions;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;

use kube::api::{Api, ListParams};

use crate::{create, credentials, exclusive, finish, install_crd, kubectl, wait_for, Operator};

/// Every field of `want` is in `have` with the same value (lists element by element); the
/// server may add defaults.
fn subset(want: &Value, have: &Value, path: &str, diffs: &mut Vec<String>) {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            for (k, v) in w {
                match h.get(k) {
                    Some(hv) => subset(v, hv, &format!("{path}.{k}"), diffs),
                    None if v.is_null()
                        || v == &Value::Bool(false)
                        || v.as_object().is_some_and(|o| o.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty()) => {}
                    None => diffs.push(format!("{path}.{k}: missing, want {v}")),
                }
            }
        }
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => {
            for (i, (wv, hv)) in w.iter().zip(h).enumerate() {
                subset(wv, hv, &format!("{path}[{i}]"), diffs);
            }
        }
        (w, h) if w == h => {}
        (w, h) => diffs.push(format!("{path}: want {w}, have {h}")),
    }
}

async fn compare(ns: &TestNamespace, object: &K8sObject) -> Result<Vec<String>> {
    let name = object.name();
    let (want, have) = match object {
        K8sObject::Secret(s) => {
            let live = ns.api::<Secret>().get(name).await?;
            let want: BTreeMap<String, String> = s.string_data.clone().unwrap_or_default();
            let have: BTreeMap<String, String> = live
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect();
            // Keys of services inactive under the profiles are generated only on activation.
            let matches = if name.ends_with("-credentials") {
                want.iter().all(|(k, v)| have.get(k) == Some(v))
            } else {
                want == have
            };
            if !matches {
                let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
                return Ok(vec![format!(
                    "Secret {name}: keys or values differ (want keys {:?}, have {:?})",
                    keys(&want),
                    keys(&have)
                )]);
            }
            return Ok(Vec::new());
        }
        K8sObject::ConfigMap(o) => {
            let live = ns.api::<ConfigMap>().get(name).await?;
            let same = live.data == o.data && live.binary_data == o.binary_data;
            return Ok(if same {
                Vec::new()
            } else {
                vec![format!("ConfigMap {name}: data differs")]
            });
        }
        K8sObject::NetworkPolicy(o) => (
            serde_json::to_value(&o.spec)?,
            serde_json::to_value(ns.api::<NetworkPolicy>().get(name).await?.spec)?,
        ),
        K8sObject::Service(o) => (
            serde_json::to_value(&o.spec)?,
            serde_json::to_value(ns.api::<Service>().get(name).await?.spec)?,
        ),
        K8sObject::Deployment(o) => (
            serde_json::to_value(&o.spec)?,
            serde_json::to_value(ns.api::<Deployment>().get(name).await?.spec)?,
        ),
        K8sObject::StatefulSet(o) => (
            serde_json::to_value(&o.spec)?,
            serde_json::to_value(ns.api::<StatefulSet>().get(name).await?.spec)?,
        ),
    };
    let mut diffs = Vec::new();
    subset(
        &want,
        &have,
        &format!("{} {name} spec", object.kind()),
        &mut diffs,
    );
    Ok(diffs)
}

async fn example_reaches_ready(
    name: &str,
    mut stack: DevStack,
    options: RenderOptions,
) -> Result<()> {
    let ns = TestNamespace::on_kwok(&format!("op-{name}")).await?;
    let client = ns.client();
    stack.metadata.namespace = Some(ns.name().to_string());
    let stack_name = stack.metadata.name.clone().unwrap_or_default();
    // The examples' host mounts (semantik's documents) are allowed, as the chart's
    // `allowedHostPaths` would allow them on a node that sees the host.
    let allowed = devstack_e2e::examples::host_path_prefix()?;
    let allowed = allowed.to_string_lossy();
    let mut operator = Operator::start(&[ns.name()], &["--allow-host-path", &allowed])?;
    create(&client, &stack).await?;
    if let Err(e) = wait_for(ns.name(), &stack_name, "Ready", 120).await {
        return Err(e.context(operator.log()));
    }

    let mut plan = plan(&stack, &PlanOptions::default()).map_err(|e| anyhow!("{e}"))?;
    plan.namespace = Some(ns.name().to_string());
    let (_, creds) = credentials(&client, ns.name(), &stack_name).await?;
    let values: BTreeMap<String, String> = creds
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    if options.gpu_fallback {
        let status = kubectl(&[
            "get",
            "-n",
            ns.name(),
            "devstack",
            &stack_name,
            "-o",
            "json",
        ])
        .await?;
        let on_cpu = serde_json::from_str::<Value>(&status)?["status"]["services"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, s)| s["gpu"].as_str().is_some_and(|g| g.starts_with("cpu")))
            .count();
        if on_cpu == 0 {
            return Err(anyhow!(
                "no service reports `gpu: cpu …` in the status: {status}"
            ));
        }
    }
    let rendered = devstack_render_k8s::render_with(&plan, Some(&values), options)?;
    let mut diffs = Vec::new();
    for object in &rendered {
        diffs.extend(compare(&ns, object).await?);
    }
    finish(ns, &mut operator).await?;
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "objects differ from `devstack render k8s`:\n{}",
            diffs.join("\n")
        ))
    }
}

#[tokio::test]
async fn every_example_reaches_ready_and_equals_the_rendering() {
    let _exclusive = exclusive().await;
    install_crd(&devstack_e2e::client().await.unwrap())
        .await
        .unwrap();
    let examples = devstack_e2e::examples::applied_all().unwrap();
    assert!(examples.len() >= 6, "too few examples: {}", examples.len());
    let mut failures = Vec::new();
    for (name, stack) in examples {
        if let Err(e) = example_reaches_ready(&name, stack, RenderOptions::default()).await {
            failures.push(format!("{name}: {e:#}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const GPU: &str = devstack_core::conventions::GPU_RESOURCE;

#[tokio::test]
async fn without_a_gpu_node_optional_gpu_services_run_on_cpu() {
    let _exclusive = exclusive().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let offered = |nodes: Vec<Node>| {
        nodes.iter().any(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .is_some_and(|a| a.contains_key(GPU))
        })
    };
    let nodes = Api::<Node>::all(client.clone());
    let before = nodes.list(&ListParams::default()).await.unwrap().items;
    assert!(
        offered(before),
        "the harness's kwok node should offer {GPU}"
    );

    devstack_e2e::set_kwok_capacity(&client, GPU, None)
        .await
        .unwrap();
    let after = nodes.list(&ListParams::default()).await.unwrap().items;
    let path = devstack_e2e::workspace_root().join("examples/cortex-second-brain.yaml");
    let result = match (offered(after), devstack_e2e::examples::applied(&path)) {
        (true, _) => Err(anyhow!("a node still offers {GPU}")),
        (false, Ok(stack)) => {
            let options = RenderOptions { gpu_fallback: true };
            example_reaches_ready("cortex-second-brain", stack, options).await
        }
        (false, Err(e)) => Err(e),
    };
    devstack_e2e::set_kwok_capacity(&client, GPU, Some("8"))
        .await
        .unwrap();
    if let Err(e) = result {
        panic!("{e:#}");
    }
}
