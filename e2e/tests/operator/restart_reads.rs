//! An operator restart over unchanged stacks reads none of their objects again: each stack's
//! status carries the digest of what the operator last saw hold (`status.observedObjects`),
//! and the watch caches show the same versions. A Service edited while the operator was down
//! no longer matches: that stack is read and the edit repaired.

use std::time::Duration;

use anyhow::Result;
use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::{
    create, exclusive, finish, install_crd, no_terminating_test_namespace, stack, sum_metric,
    wait_for, Operator,
};

/// A stack of three services whose names start with `p` (stacks of one namespace need
/// distinct object names).
fn body(p: &str) -> String {
    format!("  services:\n    {p}db: {{type: postgres}}\n    {p}cache: {{type: redis}}\n    {p}api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{{name: http, containerPort: 8080}}]\n      dependsOn: [{p}db, {p}cache]\n")
}

/// The kinds the operator's caches keep in part (metadata; workloads without their template).
const PARTIAL: [&str; 5] = [
    "configmaps",
    "networkpolicies",
    "services",
    "deployments",
    "statefulsets",
];

/// Reads (`verb`: `GET` or `LIST`) the API server counted for the kinds kept in part.
async fn reads(client: &Client, verb: &str) -> Result<f64> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(request).await?;
    Ok(sum_metric(&text, "apiserver_request_total", |labels| {
        labels.contains(&format!("verb=\"{verb}\""))
            && PARTIAL
                .iter()
                .any(|k| labels.contains(&format!("resource=\"{k}\"")))
    }))
}

/// Restarts `operator` and waits until it reconciled `stacks` stacks and went quiet.
async fn restart_and_settle(operator: &mut Operator, stacks: f64) {
    operator.restart().unwrap();
    poll_until("every stack reconciled", Duration::from_secs(60), || {
        let operator = &*operator;
        async move {
            let reconciled = operator.counter("devstack_stacks_reconciled").await?;
            Ok((reconciled >= stacks).then_some(()))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
}

/// Restarts `operator`, waits until it reconciled `stacks` stacks and went quiet, and returns
/// the GETs and LISTs of the kinds kept in part the API server counted meanwhile.
async fn restart_counting(client: &Client, operator: &mut Operator, stacks: usize) -> (f64, f64) {
    let gets = reads(client, "GET").await.unwrap();
    let lists = reads(client, "LIST").await.unwrap();
    restart_and_settle(operator, stacks as f64).await;
    (
        reads(client, "GET").await.unwrap() - gets,
        reads(client, "LIST").await.unwrap() - lists,
    )
}

#[tokio::test]
async fn a_restart_reads_unchanged_stacks_no_more_and_repairs_an_edit_made_meanwhile() {
    let _exclusive = exclusive().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-restart").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let names = ["one", "two", "three"];
    for name in names {
        create(&client, &stack(name, ns.name(), &body(name)))
            .await
            .unwrap();
    }
    for name in names {
        wait_for(ns.name(), name, "Ready", 120)
            .await
            .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    }
    let stacks = ns.api::<DevStack>();
    poll_until("every digest written", Duration::from_secs(60), || {
        let stacks = stacks.clone();
        async move {
            let mut all = true;
            for name in names {
                let status = stacks.get(name).await?.status.unwrap_or_default();
                all &= status.observed_objects.is_some();
            }
            Ok(all.then_some(()))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    // Namespaces of earlier tests finish terminating first (the namespace controller lists
    // every kind in them).
    no_terminating_test_namespace(&client).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Unchanged stacks: after the restart nothing is read by name, and only the watches
    // list. The same restart with the digests removed is the comparison: each stack's
    // policies, Services and StatefulSets are listed again and its Deployment read by name.
    let (gets, lists) = restart_counting(&client, &mut operator, names.len()).await;
    assert_eq!(
        gets,
        0.0,
        "objects read by name after a restart\n{}",
        operator.log()
    );
    operator.stop();
    for name in names {
        let clear = json!({"status": {"observedObjects": null}});
        stacks
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&clear))
            .await
            .unwrap();
    }
    let (gets_without, lists_without) = restart_counting(&client, &mut operator, names.len()).await;
    assert!(
        gets_without > 0.0 && lists + 2.0 * names.len() as f64 <= lists_without,
        "with the digest: {gets} GETs, {lists} LISTs; without: {gets_without} GETs, {lists_without} LISTs"
    );
    poll_until(
        "every digest written again",
        Duration::from_secs(60),
        || {
            let stacks = stacks.clone();
            async move {
                let mut all = true;
                for name in names {
                    let status = stacks.get(name).await?.status.unwrap_or_default();
                    all &= status.observed_objects.is_some();
                }
                Ok(all.then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));

    // A Service edited while the operator is down: that stack is read, the edit repaired.
    operator.stop();
    let services: Api<Service> = ns.api();
    let target = |service: Service| {
        let ports = service.spec.and_then(|s| s.ports).unwrap_or_default();
        (ports[0].port, ports[0].target_port.clone())
    };
    let (port, wanted) = target(services.get("oneapi").await.unwrap());
    let edit = json!({"spec": {"ports": [{"name": "http", "port": port, "targetPort": 9999}]}});
    services
        .patch("oneapi", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    restart_and_settle(&mut operator, names.len() as f64).await;
    poll_until("the edit repaired", Duration::from_secs(60), || {
        let (services, wanted) = (services.clone(), wanted.clone());
        async move { Ok((target(services.get("oneapi").await?).1 == wanted).then_some(())) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    finish(ns, &mut operator).await.unwrap();
}
