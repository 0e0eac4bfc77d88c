//! Start order: a dependent's workload is created only once its dependencies are Ready, and
//! the status says what it waits for.

use std::time::Duration;

use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use crate::{create, finish, install_crd, shared, stack, wait_for, Operator};

#[tokio::test]
async fn dependent_is_created_only_after_its_dependency_is_ready() {
    let _shared = shared().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let ns = TestNamespace::on_kwok("op-order").await.unwrap();
    // No pod may start: db cannot become Ready while this quota exists.
    let quota = ResourceQuota {
        metadata: ObjectMeta {
            name: Some("no-pods".into()),
            ..ObjectMeta::default()
        },
        spec: Some(ResourceQuotaSpec {
            hard: Some([("pods".to_string(), Quantity("0".into()))].into()),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    };
    let quotas = ns.api::<ResourceQuota>();
    quotas.create(&PostParams::default(), &quota).await.unwrap();
    let mut operator = Operator::start(&[ns.name()], &[]).unwrap();
    let body = "  services:\n    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";
    create(&client, &stack("order", ns.name(), body))
        .await
        .unwrap();

    let api = ns.api::<DevStack>();
    let statefulsets = ns.api::<StatefulSet>();
    poll_until(
        "api reported as waiting for db",
        Duration::from_secs(60),
        || {
            let api = api.clone();
            let statefulsets = statefulsets.clone();
            async move {
                let stack = api.get("order").await?;
                let status = stack.status.unwrap_or_default();
                let waiting = status
                    .services
                    .get("api")
                    .and_then(|s| s.message.as_deref())
                    == Some("waiting for db");
                Ok((waiting && statefulsets.get_opt("db").await?.is_some()).then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let ready_message = api
        .get("order")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready_message.status, "False");
    assert!(
        ready_message.message.contains("api: waiting for db"),
        "{}",
        ready_message.message
    );
    // Give the operator several chances to get it wrong.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        ns.api::<Deployment>()
            .get_opt("api")
            .await
            .unwrap()
            .is_none(),
        "api created before db was Ready"
    );

    quotas
        .delete("no-pods", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(ns.name(), "order", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    assert!(ns
        .api::<Deployment>()
        .get_opt("api")
        .await
        .unwrap()
        .is_some());
    finish(ns, &mut operator).await.unwrap();
}
