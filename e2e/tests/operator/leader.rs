//! Two operators with `--leader-elect`: only the Lease holder reconciles; when it is killed
//! the other takes over.

use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::{create, finish, install_crd, shared, stack, wait_for, Operator};

#[tokio::test]
async fn only_the_lease_holder_writes_and_the_standby_takes_over() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-leader").await.unwrap();
    let lease_args = [
        "--leader-elect",
        "--lease-namespace",
        ns.name(),
        "--lease-name",
        "devstack-operator-test",
    ];
    let mut a =
        Operator::start_with_env(&[ns.name()], &lease_args, &[("POD_NAME", "op-a")]).unwrap();
    let leases = ns.api::<Lease>();
    let holder = || {
        let leases = leases.clone();
        async move {
            let lease = leases.get_opt("devstack-operator-test").await?;
            Ok::<_, anyhow::Error>(lease.and_then(|l| l.spec?.holder_identity))
        }
    };
    poll_until("op-a holds the Lease", Duration::from_secs(60), || async {
        Ok(holder().await?.filter(|h| h == "op-a"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", a.log()));
    let mut b =
        Operator::start_with_env(&[ns.name()], &lease_args, &[("POD_NAME", "op-b")]).unwrap();
    // The standby is live and ready (it serves its endpoints) but does not reconcile.
    poll_until("op-b serves /readyz", Duration::from_secs(30), || async {
        Ok((b.http_status("/readyz").await.ok() == Some(200)).then_some(()))
    })
    .await
    .unwrap();

    create(
        &client,
        &stack(
            "leader",
            ns.name(),
            "  services:\n    web: {image: 'nginx:1', ports: [{name: http, containerPort: 80}]}\n",
        ),
    )
    .await
    .unwrap();
    wait_for(ns.name(), "leader", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", a.log()));
    assert!(a.counter("devstack_reconciles_total").await.unwrap() > 0.0);
    assert_eq!(
        b.counter("devstack_reconciles_total").await.unwrap(),
        0.0,
        "the standby reconciled"
    );

    a.kill();
    let api = ns.api::<DevStack>();
    api.patch(
        "leader",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"services": {"web": {"replicas": 2}}}})),
    )
    .await
    .unwrap();
    poll_until(
        "op-b takes over and reconciles the edit",
        Duration::from_secs(90),
        || {
            let api = api.clone();
            async move {
                let stack = api.get("leader").await?;
                let status = stack.status.unwrap_or_default();
                let current = status.observed_generation == stack.metadata.generation;
                let held = holder().await?.as_deref() == Some("op-b");
                Ok((current && held).then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", b.log()));
    assert!(b.counter("devstack_reconciles_total").await.unwrap() > 0.0);
    wait_for(ns.name(), "leader", "Ready", 60).await.unwrap();
    finish(ns, &mut b).await.unwrap();
}
