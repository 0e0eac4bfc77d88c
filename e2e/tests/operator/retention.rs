//! Deletion with retained data (and adoption by a re-created stack), reset.

use std::time::Duration;

use anyhow::Result;
use devstack_core::DevStack;
use devstack_e2e::{poll_until, poll_until_gone, TestNamespace};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::Api;
use serde_json::json;

use crate::lifecycle::generation_ready;
use crate::{create, credentials, finish, install_crd, shared, stack, wait_for, Operator};

async fn claims(api: &Api<PersistentVolumeClaim>, stack: &str) -> Result<Vec<(String, String)>> {
    Ok(api
        .list(&ListParams::default().labels(&format!("devstack.dev/stack={stack}")))
        .await?
        .items
        .into_iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .map(|c| {
            (
                c.metadata.name.unwrap_or_default(),
                c.metadata.uid.unwrap_or_default(),
            )
        })
        .collect())
}

/// Deleting a stack keeps retained data and its credentials; a re-created stack of the same
/// name adopts both. With `retainOnDelete: false` the claim goes with the stack.
#[tokio::test]
async fn delete_keeps_retained_data_and_recreate_adopts_it() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-retain").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let api = ns.api::<DevStack>();
    let pvcs = ns.api::<PersistentVolumeClaim>();
    let secrets = ns.api::<Secret>();
    let kept = stack("kept", ns.name(), "  services:\n    db: {type: postgres}\n");
    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let creds = credentials(&client, ns.name(), "kept").await.unwrap().1;
    let claims_before = claims(&pvcs, "kept").await.unwrap();
    assert!(!claims_before.is_empty(), "postgres has a claim");

    api.delete("kept", &DeleteParams::default()).await.unwrap();
    poll_until_gone(&api, "kept", Duration::from_secs(60))
        .await
        .unwrap();
    // Garbage collection has had its chance: the workload goes, data and credentials stay.
    let sts = ns.api::<k8s_openapi::api::apps::v1::StatefulSet>();
    poll_until_gone(&sts, "db", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claims(&pvcs, "kept").await.unwrap(), claims_before);
    let secret = secrets.get("kept-credentials").await.unwrap();
    assert!(
        secret
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "released from its deleted owner"
    );

    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert_eq!(
        credentials(&client, ns.name(), "kept").await.unwrap().1,
        creds,
        "same credentials"
    );
    assert_eq!(
        claims(&pvcs, "kept").await.unwrap(),
        claims_before,
        "same claim"
    );
    // Adopted by label, and still without an owner reference: no deletion mode of the new
    // stack can let the garbage collector take the credentials of retained data.
    let adopted = secrets.get("kept-credentials").await.unwrap().metadata;
    assert_eq!(
        adopted
            .labels
            .unwrap_or_default()
            .get("devstack.dev/stack")
            .map(String::as_str),
        Some("kept"),
        "credentials adopted by the new stack"
    );
    assert!(
        adopted.owner_references.unwrap_or_default().is_empty(),
        "credentials never owned for garbage collection"
    );

    let dropped = stack(
        "dropped",
        ns.name(),
        // Object names are service names: another stack in this namespace needs other names.
        "  services:\n    store: {type: postgres, storage: {retainOnDelete: false}}\n",
    );
    create(&client, &dropped).await.unwrap();
    wait_for(ns.name(), "dropped", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert!(!claims(&pvcs, "dropped").await.unwrap().is_empty());
    api.delete("dropped", &DeleteParams::default())
        .await
        .unwrap();
    poll_until(
        "claim and credentials of dropped deleted",
        Duration::from_secs(90),
        || {
            let pvcs = pvcs.clone();
            let secrets = secrets.clone();
            async move {
                let gone = claims(&pvcs, "dropped").await?.is_empty()
                    && secrets.get_opt("dropped-credentials").await?.is_none();
                Ok(gone.then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    finish(ns, &mut operator).await.unwrap();
}

/// The reset annotation wipes data and credentials once per value.
#[tokio::test]
async fn reset_annotation_wipes_data_and_credentials_once() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-reset").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(
        &client,
        &stack(
            "reset",
            ns.name(),
            "  services:\n    db: {type: postgres}\n",
        ),
    )
    .await
    .unwrap();
    wait_for(ns.name(), "reset", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let pvcs = ns.api::<PersistentVolumeClaim>();
    let creds_before = credentials(&client, ns.name(), "reset").await.unwrap();
    let claims_before = claims(&pvcs, "reset").await.unwrap();

    let api = ns.api::<DevStack>();
    let annotate = json!({"metadata": {"annotations": {"devstack.dev/reset": "1"}}});
    api.patch("reset", &PatchParams::default(), &Patch::Merge(&annotate))
        .await
        .unwrap();
    poll_until(
        "reset carried out and Ready again",
        Duration::from_secs(120),
        || {
            let api = api.clone();
            async move {
                let stack = api.get("reset").await?;
                let done = stack.status.as_ref().and_then(|s| s.last_reset.as_deref()) == Some("1");
                Ok((done && generation_ready(&api, "reset").await?.is_some()).then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let creds_after = credentials(&client, ns.name(), "reset").await.unwrap();
    assert_ne!(creds_after.1, creds_before.1, "new credentials");
    let claims_after = claims(&pvcs, "reset").await.unwrap();
    assert_eq!(claims_after.len(), claims_before.len());
    assert_ne!(claims_after, claims_before, "new claims");

    // The same value again does nothing.
    operator.restart().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        credentials(&client, ns.name(), "reset").await.unwrap(),
        creds_after
    );
    finish(ns, &mut operator).await.unwrap();
}
