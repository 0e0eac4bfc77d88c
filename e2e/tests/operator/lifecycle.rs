//! Credentials, drift, resync cost, pruning (retained data and reset: `retention.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use devstack_core::parse::parse_devstack;
use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use rand::Rng;
use serde_json::json;

use crate::{
    create, credentials, exclusive, finish, install_crd, no_terminating_test_namespace, shared,
    stack, sum_metric, wait_for, Operator,
};

pub(crate) async fn generation_ready(api: &Api<DevStack>, name: &str) -> Result<Option<()>> {
    let stack = api.get(name).await?;
    let status = stack.status.unwrap_or_default();
    let ready = status.conditions.iter().any(|c| {
        c.type_ == "Ready"
            && c.status == "True"
            && c.observed_generation == stack.metadata.generation
    });
    Ok((ready && status.observed_generation == stack.metadata.generation).then_some(()))
}

async fn set_env(api: &Api<DevStack>, name: &str, service: &str, value: &str) -> Result<()> {
    let patch = json!({"spec": {"services": {service: {"env": {"DEVSTACK_TEST_EDIT": value}}}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Credentials are generated once: an operator restart, a spec edit and 20 SIGKILLs at random
/// moments while the largest example reconciles never change them.
#[tokio::test]
async fn credentials_survive_restarts_edits_and_sigkills() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let text = std::fs::read_to_string(
        devstack_e2e::workspace_root().join("examples/backend-stores.yaml"),
    )
    .unwrap();
    let mut example = parse_devstack(&text).unwrap();
    let ns = TestNamespace::on_kwok("op-creds").await.unwrap();
    example.metadata.namespace = Some(ns.name().to_string());
    let name = example.metadata.name.clone().unwrap();
    let service = example.spec.services.keys().next().unwrap().clone();
    let api = ns.api::<DevStack>();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(&client, &example).await.unwrap();
    wait_for(ns.name(), &name, "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let first = credentials(&client, ns.name(), &name).await.unwrap();
    let mut seen = BTreeSet::from([first.clone()]);

    operator.restart().unwrap();
    set_env(&api, &name, &service, "restart").await.unwrap();
    poll_until(
        "Ready after restart and edit",
        Duration::from_secs(120),
        || generation_ready(&api, &name),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    seen.insert(credentials(&client, ns.name(), &name).await.unwrap());

    let mut rng = rand::rng();
    for i in 0..20 {
        operator.kill();
        set_env(&api, &name, &service, &format!("kill-{i}"))
            .await
            .unwrap();
        operator.restart().unwrap();
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        operator.kill();
        if let Ok(creds) = credentials(&client, ns.name(), &name).await {
            seen.insert(creds);
        }
    }
    operator.restart().unwrap();
    poll_until("Ready after 20 SIGKILLs", Duration::from_secs(180), || {
        generation_ready(&api, &name)
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    seen.insert(credentials(&client, ns.name(), &name).await.unwrap());
    let regenerated = seen.len() - 1;
    assert_eq!(
        regenerated, 0,
        "the credentials Secret changed {regenerated} time(s)"
    );
    finish(ns, &mut operator).await.unwrap();
}

const SMALL: &str = "  services:\n    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

/// Write requests (not reads) the API server counted for the kinds the operator touches.
async fn writes(client: &Client) -> Result<f64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    let kinds = [
        "secrets",
        "services",
        "deployments",
        "statefulsets",
        "networkpolicies",
        "devstacks",
        "events",
        "persistentvolumeclaims",
    ];
    Ok(sum_metric(&text, "apiserver_request_total", |labels| {
        let verb_write = [
            "\"POST\"",
            "\"PUT\"",
            "\"PATCH\"",
            "\"APPLY\"",
            "\"DELETE\"",
            "\"DELETECOLLECTION\"",
        ]
        .iter()
        .any(|v| labels.contains(&format!("verb={v}")));
        verb_write
            && kinds
                .iter()
                .any(|k| labels.contains(&format!("resource=\"{k}\"")))
    }))
}

/// A deleted Service and an edited Deployment are put back; then a forced resync (operator
/// restart: every stack is reconciled again) of the unchanged stack sends no write at all.
#[tokio::test]
async fn drift_is_restored_and_an_unchanged_resync_writes_nothing() {
    let _exclusive = exclusive().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-drift").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    create(&client, &stack("drift", ns.name(), SMALL))
        .await
        .unwrap();
    wait_for(ns.name(), "drift", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));

    let services = ns.api::<Service>();
    let deployments = ns.api::<Deployment>();
    services
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    let edit = json!({"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "evil:6.6.6"}]}}}});
    deployments
        .patch("api", &PatchParams::default(), &Patch::Strategic(&edit))
        .await
        .unwrap();
    poll_until("drift restored", Duration::from_secs(60), || {
        let services = services.clone();
        let deployments = deployments.clone();
        async move {
            let service_back = services.get_opt("db").await?.is_some();
            let image = deployments
                .get("api")
                .await?
                .spec
                .template
                .spec
                .and_then(|s| s.containers.first().and_then(|c| c.image.clone()));
            Ok((service_back && image.as_deref() == Some("ghcr.io/acme/api:1.0")).then_some(()))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    wait_for(ns.name(), "drift", "Ready", 60).await.unwrap();
    // The repair is told as a series on the creation's `Applied` Event (the API server took
    // the operator's series patch), not as a second Event.
    let events = ns.api::<Event>();
    poll_until(
        "the repair counted on Applied",
        Duration::from_secs(30),
        || {
            let events = events.clone();
            async move {
                let applied: Vec<Event> = events
                    .list(&ListParams::default())
                    .await?
                    .items
                    .into_iter()
                    .filter(|e| e.reason.as_deref() == Some("Applied"))
                    .collect();
                let counted =
                    applied.len() == 1 && applied[0].series.as_ref().is_some_and(|s| s.count >= 2);
                Ok(counted.then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));

    // Quiet period: namespaces of earlier tests finish terminating (their deletions are
    // writes too) and the controllers settle; then count writes across a full resync.
    no_terminating_test_namespace(&client).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    operator.stop();
    let before = writes(&client).await.unwrap();
    assert!(
        before > 0.0,
        "the API server's write counter is not visible"
    );
    operator.restart().unwrap();
    poll_until(
        "the restarted operator reconciled the stack",
        Duration::from_secs(60),
        || {
            let operator = &operator;
            async move {
                let text = operator.metrics().await?;
                // A finished reconcile records its duration.
                let reconciled =
                    sum_metric(&text, "devstack_reconcile_duration_seconds_count", |_| true) > 0.0;
                Ok(reconciled.then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = writes(&client).await.unwrap();
    let applied = operator
        .counter("devstack_objects_applied_total")
        .await
        .unwrap();
    assert_eq!(
        after - before,
        0.0,
        "writes during an unchanged resync (operator applied {applied})\n{}",
        operator.log()
    );
    finish(ns, &mut operator).await.unwrap();
}

async fn names<K>(api: &Api<K>) -> Result<BTreeSet<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(api
        .list_metadata(&ListParams::default().labels("devstack.dev/stack=prune"))
        .await?
        .items
        .into_iter()
        .filter(|o| o.metadata.deletion_timestamp.is_none())
        .filter_map(|o| o.metadata.name)
        .collect())
}

/// A profile change and a removed service delete their objects.
#[tokio::test]
async fn profile_change_and_removed_service_are_pruned() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-prune").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let body = "  profiles: [extra]\n  services:\n    a: {image: 'nginx:1', ports: [{name: http, containerPort: 80}]}\n    b: {image: 'nginx:1', profiles: [extra], ports: [{name: http, containerPort: 80}]}\n    c: {image: 'nginx:1', ports: [{name: http, containerPort: 80}]}\n";
    create(&client, &stack("prune", ns.name(), body))
        .await
        .unwrap();
    wait_for(ns.name(), "prune", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let deployments = ns.api::<Deployment>();
    let services = ns.api::<Service>();
    assert_eq!(
        names(&deployments).await.unwrap(),
        BTreeSet::from(["a".into(), "b".into(), "c".into()])
    );

    let api = ns.api::<DevStack>();
    api.patch(
        "prune",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"profiles": null}})),
    )
    .await
    .unwrap();
    let expect = |want: &'static [&'static str]| {
        let deployments = deployments.clone();
        let services = services.clone();
        move || {
            let deployments = deployments.clone();
            let services = services.clone();
            async move {
                let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
                Ok(
                    (names(&deployments).await? == want && names(&services).await? == want)
                        .then_some(()),
                )
            }
        }
    };
    poll_until(
        "b pruned after the profile change",
        Duration::from_secs(60),
        expect(&["a", "c"]),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    api.patch(
        "prune",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"services": {"c": null}}})),
    )
    .await
    .unwrap();
    poll_until(
        "c pruned after its removal",
        Duration::from_secs(60),
        expect(&["a"]),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    wait_for(ns.name(), "prune", "Ready", 60).await.unwrap();
    finish(ns, &mut operator).await.unwrap();
}
