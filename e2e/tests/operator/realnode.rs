//! Run-time behaviour on the harness's real kubelet node (a plain namespace, the local postgres
//! image through `--image-override`): what the kwok tests can only show as objects, shown with
//! a running database.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use devstack_core::DevStack;
use devstack_e2e::{poll_until, TestNamespace};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::api::DeleteParams;
use kube::{Api, Client};

use crate::{create, finish, install_crd, kubectl, shared, stack, wait_for, Operator};

/// The CRD installed, a plain namespace (pods go to the real node) and an operator watching it
/// with the local postgres image, whose name comes last.
async fn on_the_real_node(prefix: &str) -> Result<(Client, TestNamespace, Operator, String)> {
    let client = devstack_e2e::client().await?;
    install_crd(&client).await?;
    let ns = TestNamespace::new(prefix).await?;
    let postgres = devstack_e2e::local_image("postgres")?;
    let operator = Operator::start(
        &[ns.name()],
        &["--image-override", &format!("postgres={postgres}")],
    )?;
    Ok((client, ns, operator, postgres))
}

/// The uids of the namespace's PersistentVolumeClaims.
async fn claim_uids(ns: &TestNamespace) -> Result<Vec<String>> {
    Ok(ns
        .api::<PersistentVolumeClaim>()
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.uid)
        .collect())
}

/// The values of `<stack>-connections`, decoded.
async fn connections(secrets: &Api<Secret>, stack: &str) -> Result<BTreeMap<String, String>> {
    let secret = secrets.get(&format!("{stack}-connections")).await?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect())
}

/// `psql` in the database pod over TCP (password authentication) with `password`; stdout.
async fn psql(
    ns: &str,
    pod: &str,
    conn: &BTreeMap<String, String>,
    password: &str,
    sql: &str,
) -> Result<String> {
    let get = |k: &str| conn.get(k).cloned().unwrap_or_default();
    kubectl(&[
        "exec",
        "-n",
        ns,
        pod,
        "--",
        "env",
        &format!("PGPASSWORD={password}"),
        "psql",
        "-h",
        "127.0.0.1",
        "-p",
        &get("DB_PORT"),
        "-U",
        &get("DB_USER"),
        "-d",
        &get("DB_DB"),
        "-v",
        "ON_ERROR_STOP=1",
        "-tAc",
        sql,
    ])
    .await
    .map(|out| out.trim().to_string())
}

async fn pod_uid(pods: &Api<Pod>, name: &str) -> Result<Option<String>> {
    Ok(pods.get_opt(name).await?.and_then(|p| p.metadata.uid))
}

/// A row written into the real postgres of a stack survives the deletion of the DevStack
/// (retained storage) and its re-creation: the re-created stack's credentials are the old
/// ones, and the old password opens the old data in a new pod.
#[tokio::test]
async fn recreated_stack_opens_its_old_data_with_the_old_password() {
    let _shared = shared().await;
    let (client, ns, mut operator, _) = on_the_real_node("op-realdata").await.unwrap();
    let api = ns.api::<DevStack>();
    let pods = ns.api::<Pod>();
    let secrets = ns.api::<Secret>();
    let kept = stack("kept", ns.name(), "  services:\n    db: {type: postgres}\n");
    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let node = pods
        .get("db-0")
        .await
        .unwrap()
        .spec
        .and_then(|s| s.node_name)
        .unwrap_or_default();
    assert_eq!(
        node,
        devstack_e2e::kubectl::REAL_NODE,
        "db-0 runs on the real node"
    );

    let before = connections(&secrets, "kept").await.unwrap();
    let password = before.get("DB_PASSWORD").cloned().unwrap_or_default();
    assert!(!password.is_empty(), "connections hold DB_PASSWORD");
    let nonce = devstack_e2e::unique_name("row");
    psql(
        ns.name(),
        "db-0",
        &before,
        &password,
        &format!("create table kept (v text); insert into kept values ('{nonce}')"),
    )
    .await
    .unwrap();
    let old_pod = pod_uid(&pods, "db-0").await.unwrap().unwrap_or_default();
    let old_claims = claim_uids(&ns).await.unwrap();

    api.delete("kept", &DeleteParams::default()).await.unwrap();
    poll_until(
        "DevStack, StatefulSet and pod of kept gone",
        Duration::from_secs(120),
        || {
            let api = api.clone();
            let pods = pods.clone();
            let sts = ns.api::<StatefulSet>();
            async move {
                let gone = api.get_opt("kept").await?.is_none()
                    && sts.get_opt("db").await?.is_none()
                    && pods.get_opt("db-0").await?.is_none();
                Ok(gone.then_some(()))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));

    create(&client, &kept).await.unwrap();
    wait_for(ns.name(), "kept", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let new_pod = pod_uid(&pods, "db-0").await.unwrap().unwrap_or_default();
    assert_ne!(new_pod, old_pod, "a new postgres pod");
    let after = connections(&secrets, "kept").await.unwrap();
    assert_eq!(
        after, before,
        "the re-created stack has the old connection values"
    );
    let claims = claim_uids(&ns).await.unwrap();
    assert_eq!(claims, old_claims, "the same claim");
    // The old password opens the old data; a wrong one is refused by the same server.
    let read = psql(ns.name(), "db-0", &after, &password, "select v from kept")
        .await
        .context("the old password on the re-created stack")
        .unwrap();
    assert_eq!(read, nonce);
    let wrong = psql(ns.name(), "db-0", &after, "not-the-password", "select 1").await;
    assert!(wrong.is_err(), "a wrong password is refused: {wrong:?}");

    finish(ns, &mut operator).await.unwrap();
}

/// Start order with real readiness: the dependent's workload is created only once postgres
/// really accepts connections, so its first connection at start succeeds (no restart).
#[tokio::test]
async fn dependent_starts_after_real_postgres_is_ready() {
    let _shared = shared().await;
    let (client, ns, mut operator, postgres) = on_the_real_node("op-realorder").await.unwrap();
    // Open isolation: the first connection must not race the NetworkPolicy reaching the node.
    let body = format!(
        "  isolation: open\n  services:\n    db: {{type: postgres}}\n    app:\n      image: {postgres}\n      command: [sh, -c, 'psql \"$DB_URL\" -tAc \"select 1\" && exec sleep infinity']\n      dependsOn: [db]\n"
    );
    create(&client, &stack("order", ns.name(), &body))
        .await
        .unwrap();
    wait_for(ns.name(), "order", "Ready", 180)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));

    let pods = ns.api::<Pod>();
    let db = pods.get("db-0").await.unwrap();
    let db_ready = db
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .and_then(|c| c.last_transition_time)
        .expect("db-0 Ready");
    let app_created = ns
        .api::<k8s_openapi::api::apps::v1::Deployment>()
        .get("app")
        .await
        .unwrap()
        .metadata
        .creation_timestamp
        .expect("creation time");
    assert!(
        app_created.0 >= db_ready.0,
        "app created at {:?}, before db was Ready at {:?}",
        app_created.0,
        db_ready.0
    );
    let app = pods
        .list(&kube::api::ListParams::default().labels("devstack.dev/service=app"))
        .await
        .unwrap()
        .items;
    assert_eq!(app.len(), 1, "one app pod");
    let status = app[0]
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .cloned()
        .expect("app container status");
    assert_eq!(
        app[0].spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some(devstack_e2e::kubectl::REAL_NODE)
    );
    assert!(status.ready, "app ready: {status:?}");
    assert_eq!(
        status.restart_count, 0,
        "the dependent's first connection failed: {status:?}"
    );
    finish(ns, &mut operator).await.unwrap();
}
