//! Every semantic error class the CRD schema lets through ends in `Stalled` (reason
//! `InvalidSpec`) with each field error's path and fix (the CLI's wording), a Warning Event,
//! and nothing applied.

use std::time::Duration;

use devstack_core::plan::{plan, PlanOptions};
use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ListParams;

use crate::{create, finish, install_crd, shared, stack, wait_for, Operator};

const CASES: &[(&str, &str)] = &[
    ("cycle", "  services:\n    a: {image: 'x:1', dependsOn: [b]}\n    b: {image: 'x:1', dependsOn: [a]}\n"),
    ("unknown-dep", "  services:\n    api: {image: 'x:1', dependsOn: [postgress]}\n    postgres: {type: postgres}\n"),
    ("dup-host-port", "  services:\n    a: {type: redis, hostPorts: {redis: 16379}}\n    b: {type: redis, hostPorts: {redis: 16379}}\n"),
    ("inactive-dep", "  services:\n    api: {image: 'x:1', dependsOn: [db]}\n    db: {type: postgres, profiles: [full]}\n"),
    ("bad-health-port", "  services:\n    api:\n      image: 'x:1'\n      ports: [{name: http, containerPort: 80}]\n      healthcheck: {http: {path: /, port: htp}}\n"),
];

#[tokio::test]
async fn each_semantic_error_stalls_with_field_paths_and_applies_nothing() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-invalid").await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    for (name, body) in CASES {
        create(&client, &stack(name, ns.name(), body))
            .await
            .unwrap();
    }
    let api = ns.api::<DevStack>();
    let mut failures = Vec::new();
    for (name, body) in CASES {
        if let Err(e) = wait_for(ns.name(), name, "Stalled", 60).await {
            failures.push(format!("{name}: not Stalled: {e:#}"));
            continue;
        }
        let expected = plan(&stack(name, ns.name(), body), &PlanOptions::default())
            .expect_err("the case is invalid");
        let live = api.get(name).await.unwrap();
        let conditions = live.status.unwrap_or_default().conditions;
        let stalled = conditions.iter().find(|c| c.type_ == "Stalled").unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        if stalled.reason != "InvalidSpec" || ready.status != "False" {
            failures.push(format!(
                "{name}: Stalled reason {}, Ready {}",
                stalled.reason, ready.status
            ));
        }
        for error in &expected.0 {
            if !stalled.message.contains(&error.to_string()) {
                failures.push(format!(
                    "{name}: message {:?} lacks {error}",
                    stalled.message
                ));
            }
        }
        assert!(
            expected
                .0
                .iter()
                .any(|e| e.path.starts_with("spec.services.")),
            "{name}: {expected}"
        );
    }
    // Nothing applied for any of them.
    let selector = ListParams::default().labels("devstack.dev/stack");
    let counts = [
        ns.api::<Secret>()
            .list_metadata(&selector)
            .await
            .unwrap()
            .items
            .len(),
        ns.api::<Service>()
            .list_metadata(&selector)
            .await
            .unwrap()
            .items
            .len(),
        ns.api::<Deployment>()
            .list_metadata(&selector)
            .await
            .unwrap()
            .items
            .len(),
        ns.api::<StatefulSet>()
            .list_metadata(&selector)
            .await
            .unwrap()
            .items
            .len(),
        ns.api::<NetworkPolicy>()
            .list_metadata(&selector)
            .await
            .unwrap()
            .items
            .len(),
    ];
    assert_eq!(counts, [0; 5], "objects applied for invalid stacks (Secret, Service, Deployment, StatefulSet, NetworkPolicy)");
    // A Warning Event per stack.
    let events = ns.api::<Event>();
    poll_until("InvalidSpec events", Duration::from_secs(30), || {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await?;
            let warned = CASES.iter().all(|(name, _)| {
                list.items.iter().any(|e| {
                    e.reason.as_deref() == Some("InvalidSpec")
                        && e.type_.as_deref() == Some("Warning")
                        && e.involved_object.name.as_deref() == Some(name)
                })
            });
            Ok(warned.then_some(()))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        operator.log()
    );
    finish(ns, &mut operator).await.unwrap();
}
