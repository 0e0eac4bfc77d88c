//! Field ownership of what the operator creates: a create is a POST (no read before it), whose
//! fields the API server gives to an `Update` entry; the operator hands them to its `Apply`
//! entry before the next apply, so a field dropped from the spec leaves the object.

use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::lifecycle::generation_ready;
use crate::{create, finish, install_crd, shared, stack, wait_for, Operator};

const ENV: &str =
    "  services:\n    api:\n      image: ghcr.io/acme/api:1.0\n      env: {KEEP: '1', DROP: '2'}\n";

fn env_names(deployment: &Deployment) -> Vec<String> {
    let spec = deployment.spec.template.spec.clone().unwrap_or_default();
    spec.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect()
}

/// `(operation, subresource)` of every managedFields entry of the operator's manager.
fn ours(deployment: &Deployment) -> Vec<(String, String)> {
    deployment
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|e| e.manager.as_deref() == Some("devstack-operator"))
        .map(|e| {
            let operation = e.operation.clone().unwrap_or_default();
            (operation, e.subresource.clone().unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
async fn a_field_dropped_from_the_spec_leaves_an_object_the_operator_created() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-owner").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(&client, &stack("owner", ns.name(), ENV))
        .await
        .unwrap();
    wait_for(ns.name(), "owner", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let deployments = ns.api::<Deployment>();
    let created = deployments.get("api").await.unwrap();
    assert!(env_names(&created).contains(&"DROP".to_string()));
    assert_eq!(
        ours(&created),
        [("Update".to_string(), String::new())],
        "created by a POST"
    );

    let api = ns.api::<DevStack>();
    let patch = json!({"spec": {"services": {"api": {"env": {"DROP": null}}}}});
    api.patch("owner", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    poll_until("the edit applied", Duration::from_secs(60), || {
        generation_ready(&api, "owner")
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let applied = deployments.get("api").await.unwrap();
    assert_eq!(env_names(&applied), ["KEEP"], "{:?}", applied.spec);
    assert_eq!(
        ours(&applied),
        [("Apply".to_string(), String::new())],
        "every field handed to the Apply entry"
    );
    finish(ns, &mut operator).await.unwrap();
}
