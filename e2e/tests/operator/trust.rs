//! The operator touches only what it made, and retained data keeps its credentials.
//!
//! - a Deployment, Service and Secret of a stack's names made by someone else (Helm, kubectl)
//!   are left exactly as they are; the stack is `Stalled` with reason `Conflict` naming them,
//!   with a Warning Event;
//! - a reset does not delete a `<stack>-credentials` Secret that is not the stack's own;
//! - the credentials of retained data survive `kubectl delete --cascade=foreground`, with the
//!   operator running and with the operator down while the DevStack is deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, poll_until_gone, TestNamespace};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, PostParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::{create, credentials, finish, install_crd, kubectl, shared, stack, wait_for, Operator};

const SMALL: &str = "  services:\n    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

fn helm_labels() -> BTreeMap<String, String> {
    [
        (
            "app.kubernetes.io/managed-by".to_string(),
            "Helm".to_string(),
        ),
        ("app".to_string(), "theirs".to_string()),
    ]
    .into()
}

async fn make<K>(api: &Api<K>, value: serde_json::Value) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap()
}

/// Same object, same labels and owners, no devstack annotation and no field written by the
/// operator (resourceVersion and annotations may move: the Deployment controller writes its
/// status and revision).
fn untouched(live: &ObjectMeta, before: &ObjectMeta) {
    assert_eq!(live.uid, before.uid, "{:?} re-created", live.name);
    assert_eq!(live.labels, before.labels);
    assert!(
        !live
            .annotations
            .iter()
            .flatten()
            .any(|(k, _)| k.starts_with("devstack.dev/")),
        "{:?} annotated by the operator",
        live.name
    );
    assert_eq!(live.owner_references, before.owner_references);
    let managers: Vec<_> = live
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.clone())
        .collect();
    assert!(
        !managers.iter().any(|m| m == "devstack-operator"),
        "{:?} written by the operator: {managers:?}",
        live.name
    );
}

/// The Stalled condition's (reason, message) once the stack is Stalled.
async fn stalled(
    api: &Api<DevStack>,
    ns: &str,
    name: &str,
    operator: &Operator,
) -> (String, String) {
    wait_for(ns, name, "Stalled", 60)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let stack = api.get(name).await.unwrap();
    let c = stack
        .status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap();
    (c.reason, c.message)
}

#[tokio::test]
async fn foreign_objects_of_the_stacks_names_are_left_alone() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-foreign").await.unwrap();
    let labels = helm_labels();
    let deployment: Deployment = make(
        &ns.api(),
        json!({"metadata": {"name": "api", "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": "theirs"}},
                "template": {"metadata": {"labels": {"app": "theirs"}},
                    "spec": {"containers": [{"name": "web", "image": "theirs/web:7"}]}}}}),
    )
    .await;
    let service: Service = make(
        &ns.api(),
        json!({"metadata": {"name": "db", "labels": labels},
            "spec": {"selector": {"app": "theirs"}, "ports": [{"port": 5432}]}}),
    )
    .await;
    let secret: Secret = make(
        &ns.api(),
        json!({"metadata": {"name": "shop-connections", "labels": labels},
            "stringData": {"DB_URL": "postgresql://theirs"}}),
    )
    .await;
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(&client, &stack("shop", ns.name(), SMALL))
        .await
        .unwrap();
    let api = ns.api::<DevStack>();
    let (reason, message) = stalled(&api, ns.name(), "shop", &operator).await;
    assert_eq!(reason, "Conflict", "{message}");
    for named in ["Deployment api", "Service db", "Secret shop-connections"] {
        assert!(message.contains(named), "{named} not in {message:?}");
    }
    // Give a take-over its chance, then check nothing of theirs changed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let live = ns.api::<Deployment>().get("api").await.unwrap();
    untouched(&live.metadata, &deployment.metadata);
    assert_eq!(
        live.spec.template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("theirs/web:7")
    );
    let live = ns.api::<Service>().get("db").await.unwrap();
    untouched(&live.metadata, &service.metadata);
    assert_eq!(live.spec, service.spec);
    let live = ns.api::<Secret>().get("shop-connections").await.unwrap();
    untouched(&live.metadata, &secret.metadata);
    assert_eq!(live.data, secret.data);
    assert!(
        ns.api::<StatefulSet>()
            .get_opt("db")
            .await
            .unwrap()
            .is_none(),
        "nothing of the stack was written either"
    );
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let warning = events
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("Conflict"))
        .unwrap_or_else(|| panic!("no Conflict Event in {:?}", events.items));
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(warning
        .note
        .as_deref()
        .unwrap_or_default()
        .contains("Deployment api"));

    // Once theirs are gone, the stack applies.
    for (kind, name) in [
        ("deployment", "api"),
        ("service", "db"),
        ("secret", "shop-connections"),
    ] {
        kubectl(&["delete", "-n", ns.name(), kind, name])
            .await
            .unwrap();
    }
    wait_for(ns.name(), "shop", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    finish(ns, &mut operator).await.unwrap();
}

#[tokio::test]
async fn a_reset_leaves_a_foreign_credentials_secret_alone() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-foreign-reset").await.unwrap();
    let secret: Secret = make(
        &ns.api(),
        json!({"metadata": {"name": "vault-credentials", "labels": helm_labels()},
            "stringData": {"token": "theirs"}}),
    )
    .await;
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let mut vault = stack(
        "vault",
        ns.name(),
        "  services:\n    db: {type: postgres}\n",
    );
    vault
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert("devstack.dev/reset".into(), "1".into());
    create(&client, &vault).await.unwrap();
    let api = ns.api::<DevStack>();
    let (reason, message) = stalled(&api, ns.name(), "vault", &operator).await;
    assert_eq!(reason, "Conflict", "{message}");
    assert!(message.contains("Secret vault-credentials"), "{message}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let live = ns.api::<Secret>().get("vault-credentials").await.unwrap();
    assert_eq!(live.metadata.uid, secret.metadata.uid, "not deleted");
    assert_eq!(
        live.metadata.resource_version, secret.metadata.resource_version,
        "not written"
    );
    assert_eq!(live.data, secret.data);
    finish(ns, &mut operator).await.unwrap();
}

async fn gone(api: &Api<DevStack>, name: &str, operator: &Operator) {
    poll_until_gone(api, name, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
}

#[tokio::test]
async fn retained_data_keeps_its_credentials_whatever_the_deletion_mode() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-keep-creds").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let api = ns.api::<DevStack>();
    let kept = stack("kept", ns.name(), "  services:\n    db: {type: postgres}\n");
    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let first = credentials(&client, ns.name(), "kept").await.unwrap();

    // Foreground cascading deletion, operator running.
    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "devstack",
        "kept",
        "--cascade=foreground",
        "--wait=false",
    ])
    .await
    .unwrap();
    gone(&api, "kept", &operator).await;
    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert_eq!(
        credentials(&client, ns.name(), "kept").await.unwrap(),
        first,
        "same credentials Secret after a foreground deletion"
    );

    // Foreground cascading deletion with the operator down: the garbage collector deletes
    // what the stack owns while the finalizer waits.
    operator.stop();
    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "devstack",
        "kept",
        "--cascade=foreground",
        "--wait=false",
    ])
    .await
    .unwrap();
    let secrets = ns.api::<Secret>();
    // The garbage collector's time, not the operator's: it shares the two cores with the other
    // operator tests (one run of the test command took over 60 s here).
    poll_until_gone(&secrets, "kept-connections", Duration::from_secs(180))
        .await
        .unwrap();
    operator.restart().unwrap();
    gone(&api, "kept", &operator).await;
    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert_eq!(
        credentials(&client, ns.name(), "kept").await.unwrap(),
        first,
        "same credentials Secret after a foreground deletion with the operator down"
    );
    finish(ns, &mut operator).await.unwrap();
}

/// A namespace whose Pod Security level refuses the image's user (ollama runs as root): the
/// service's status says so, instead of "starting" forever.
#[tokio::test]
async fn a_pod_security_refusal_is_named_in_the_status() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-psa").await.unwrap();
    kubectl(&[
        "label",
        "namespace",
        ns.name(),
        "pod-security.kubernetes.io/enforce=restricted",
    ])
    .await
    .unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(
        &client,
        &stack(
            "llm",
            ns.name(),
            "  services:\n    ollama: {type: ollama}\n",
        ),
    )
    .await
    .unwrap();
    let api = ns.api::<DevStack>();
    let message = poll_until("the refusal in the status", Duration::from_secs(90), || {
        let api = api.clone();
        async move {
            let stack = api.get("llm").await?;
            let message = stack
                .status
                .and_then(|s| s.services.get("ollama").and_then(|o| o.message.clone()))
                .unwrap_or_default();
            Ok(message.contains("violates PodSecurity").then_some(message))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert!(message.starts_with("pods cannot be created: "), "{message}");
    finish(ns, &mut operator).await.unwrap();
}

/// A reset is carried out once per value, and the record lives with the credentials: a stack
/// deleted (data retained) and applied again from the same manifest, reset annotation and all
/// but no status (a restore, a GitOps re-sync), keeps its data and its credentials.
#[tokio::test]
async fn a_reapplied_stack_does_not_reset_again() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-reset-once").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let mut again = stack(
        "again",
        ns.name(),
        "  services:\n    db: {type: postgres}\n",
    );
    again
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert("devstack.dev/reset".into(), "1".into());
    create(&client, &again).await.unwrap();
    wait_for(ns.name(), "again", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let first = credentials(&client, ns.name(), "again").await.unwrap();
    let claims = ns.api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>();
    let claim_uids = || {
        let claims = claims.clone();
        async move {
            let mut uids: Vec<String> = claims
                .list(&ListParams::default().labels("devstack.dev/stack=again"))
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|c| c.metadata.deletion_timestamp.is_none())
                .filter_map(|c| c.metadata.uid)
                .collect();
            uids.sort();
            uids
        }
    };
    let claims_before = claim_uids().await;
    assert!(!claims_before.is_empty(), "postgres has a claim");

    let api = ns.api::<DevStack>();
    kubectl(&["delete", "-n", ns.name(), "devstack", "again"])
        .await
        .unwrap();
    gone(&api, "again", &operator).await;
    create(&client, &again).await.unwrap();
    wait_for(ns.name(), "again", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        credentials(&client, ns.name(), "again").await.unwrap(),
        first,
        "same credentials: the reset value was already carried out"
    );
    assert_eq!(claim_uids().await, claims_before, "same data");
    finish(ns, &mut operator).await.unwrap();
}
