//! Smoke tests for the local control plane started by `e2e/cluster.sh up`. Their pods go to the
//! kwok node (`TestNamespace::on_kwok`): these tests are about the API machinery, not the node.
//!
//! Run: `e2e/cluster.sh up && KUBECONFIG=$(e2e/cluster.sh kubeconfig) cargo test -p devstack-e2e
//! --test cluster_smoke`. Without a cluster these tests fail; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anyhow::{Context, Result};
use devstack_e2e::{impersonating_client, poll_until, token_client, TestNamespace};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod, Service,
    ServiceAccount, ServicePort, ServiceSpec, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, ResourceExt};

mod cluster_smoke_support;
use cluster_smoke_support::*;

#[tokio::test]
async fn deployment_pods_become_ready_on_kwok_node() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-deploy").await?;
    let deployments: Api<Deployment> = ns.api();
    deployments
        .create(&PostParams::default(), &deployment("web", 3))
        .await?;

    let pods = wait_pods_ready(&ns.api(), "web", 3).await?;
    assert_eq!(pods.len(), 3);
    for p in &pods {
        let ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
        assert!(ip.is_some(), "pod {} has no IP", p.name_any());
    }
    let ready = poll_until("deployment web to report 3 ready replicas", TIMEOUT, || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("web").await?;
            let st = d.status.unwrap_or_default();
            Ok((st.ready_replicas == Some(3) && st.available_replicas == Some(3)).then_some(st))
        }
    })
    .await?;
    assert_eq!(ready.replicas, Some(3));
    ns.cleanup().await
}

#[tokio::test]
async fn statefulset_claim_binds_and_pod_becomes_ready() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-sts").await?;
    let services: Api<Service> = ns.api();
    services
        .create(
            &PostParams::default(),
            &Service {
                metadata: meta("db"),
                spec: Some(ServiceSpec {
                    cluster_ip: Some("None".into()),
                    selector: Some(labels("db")),
                    ports: Some(vec![ServicePort {
                        name: Some("pg".into()),
                        port: 5432,
                        ..ServicePort::default()
                    }]),
                    ..ServiceSpec::default()
                }),
                ..Service::default()
            },
        )
        .await?;

    let claim = |name: &str, size: &str| PersistentVolumeClaim {
        metadata: meta(name),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity(size.into()))].into()),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    let sts = StatefulSet {
        metadata: meta("db"),
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some("db".into()),
            selector: LabelSelector {
                match_labels: Some(labels("db")),
                ..LabelSelector::default()
            },
            template: pod_template(
                "db",
                Some(vec![
                    VolumeMount {
                        name: "data".into(),
                        mount_path: "/var/lib/postgresql".into(),
                        ..VolumeMount::default()
                    },
                    VolumeMount {
                        name: "archive".into(),
                        mount_path: "/archive".into(),
                        ..VolumeMount::default()
                    },
                ]),
            ),
            // Sizes far beyond the machine's disk bind too: the volumes are hostPath dirs.
            volume_claim_templates: Some(vec![claim("data", "3Gi"), claim("archive", "2Ti")]),
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    };
    let statefulsets: Api<StatefulSet> = ns.api();
    statefulsets.create(&PostParams::default(), &sts).await?;

    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let bound = poll_until("PVC data-db-0 to be Bound", TIMEOUT, || {
        let pvcs = pvcs.clone();
        async move {
            let pvc = pvcs.get_opt("data-db-0").await?;
            Ok(pvc.filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")))
        }
    })
    .await?;
    let spec = bound.spec.clone().context("bound PVC has no spec")?;
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
    let volume_name = spec.volume_name.context("bound PVC names no volume")?;
    let capacity = bound
        .status
        .and_then(|s| s.capacity)
        .and_then(|c| c.get("storage").cloned())
        .context("bound PVC reports no capacity")?;
    assert_eq!(capacity, Quantity("3Gi".into()));

    let pv = Api::<PersistentVolume>::all(ns.client())
        .get(&volume_name)
        .await?;
    let claim_ref = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .context("PV has no claimRef")?;
    assert_eq!(claim_ref.namespace.as_deref(), Some(ns.name()));
    assert_eq!(claim_ref.name.as_deref(), Some("data-db-0"));

    let archive = poll_until("PVC archive-db-0 to be Bound", TIMEOUT, || {
        let pvcs = pvcs.clone();
        async move {
            let pvc = pvcs.get_opt("archive-db-0").await?;
            Ok(pvc.filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")))
        }
    })
    .await?;
    let archive_capacity = archive
        .status
        .and_then(|s| s.capacity)
        .and_then(|c| c.get("storage").cloned());
    assert_eq!(archive_capacity, Some(Quantity("2Ti".into())));

    let pods = wait_pods_ready(&ns.api(), "db", 1).await?;
    assert_eq!(pods[0].name_any(), "db-0");
    let sts_status = poll_until("statefulset db to report 1 ready replica", TIMEOUT, || {
        let statefulsets = statefulsets.clone();
        async move {
            let st = statefulsets.get("db").await?.status.unwrap_or_default();
            Ok((st.ready_replicas == Some(1)).then_some(st))
        }
    })
    .await?;
    assert_eq!(sts_status.replicas, 1);
    ns.cleanup().await
}

#[tokio::test]
async fn deleting_owners_garbage_collects_dependents() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-gc").await?;

    // A ConfigMap owning another ConfigMap.
    let cms: Api<ConfigMap> = ns.api();
    let owner = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta("owner"),
                ..ConfigMap::default()
            },
        )
        .await?;
    let owner_ref = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.name_any(),
        uid: owner.uid().context("owner has no uid")?,
        ..OwnerReference::default()
    };
    cms.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some("dependent".into()),
                owner_references: Some(vec![owner_ref]),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        },
    )
    .await?;

    // A Deployment owning a ReplicaSet owning pods.
    let deployments: Api<Deployment> = ns.api();
    deployments
        .create(&PostParams::default(), &deployment("gc", 2))
        .await?;
    wait_pods_ready(&ns.api(), "gc", 2).await?;
    let replicasets: Api<ReplicaSet> = ns.api();
    assert_eq!(
        replicasets.list(&ListParams::default()).await?.items.len(),
        1
    );

    cms.delete("owner", &DeleteParams::background()).await?;
    deployments
        .delete("gc", &DeleteParams::background())
        .await?;

    wait_gone(&cms, "dependent").await?;
    let pods: Api<Pod> = ns.api();
    poll_until(
        "the deployment's replica sets and pods to be collected",
        TIMEOUT,
        || {
            let replicasets = replicasets.clone();
            let pods = pods.clone();
            async move {
                let rs = replicasets.list(&ListParams::default()).await?.items.len();
                let p = pods.list(&ListParams::default()).await?.items.len();
                Ok((rs == 0 && p == 0).then_some(()))
            }
        },
    )
    .await?;
    ns.cleanup().await
}

#[tokio::test]
async fn namespace_deletion_completes() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-nsdel").await?;
    let name = ns.name().to_string();
    let client = ns.client();
    let deployments: Api<Deployment> = ns.api();
    deployments
        .create(&PostParams::default(), &deployment("doomed", 2))
        .await?;
    let cms: Api<ConfigMap> = ns.api();
    cms.create(
        &PostParams::default(),
        &ConfigMap {
            metadata: meta("settings"),
            ..ConfigMap::default()
        },
    )
    .await?;
    wait_pods_ready(&ns.api(), "doomed", 2).await?;

    ns.delete_and_wait(TIMEOUT).await?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert!(namespaces.get_opt(&name).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn network_policy_is_accepted() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-netpol").await?;
    let policies: Api<NetworkPolicy> = ns.api();
    let policy = NetworkPolicy {
        metadata: meta("postgres-ingress"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(labels("postgres")),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(labels("api")),
                        ..LabelSelector::default()
                    }),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(5432)),
                    protocol: Some("TCP".into()),
                    ..NetworkPolicyPort::default()
                }]),
            }]),
            ..NetworkPolicySpec::default()
        }),
    };
    policies.create(&PostParams::default(), &policy).await?;
    let back = policies.get("postgres-ingress").await?;
    assert_eq!(back.spec, policy.spec);
    assert!(back.uid().is_some());
    ns.cleanup().await
}

fn is_forbidden<T: std::fmt::Debug>(r: &kube::Result<T>) -> bool {
    matches!(r, Err(kube::Error::Api(e)) if e.code == 403)
}

#[tokio::test]
async fn service_account_without_role_is_forbidden() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-rbac").await?;
    let sas: Api<ServiceAccount> = ns.api();
    sas.create(
        &PostParams::default(),
        &ServiceAccount {
            metadata: meta("nobody"),
            ..ServiceAccount::default()
        },
    )
    .await?;
    let user = format!("system:serviceaccount:{}:nobody", ns.name());
    let sa_group = format!("system:serviceaccounts:{}", ns.name());

    // Impersonation.
    let imp = impersonating_client(
        &user,
        &["system:serviceaccounts", &sa_group, "system:authenticated"],
    )
    .await?;
    let r = Api::<Pod>::namespaced(imp.clone(), ns.name())
        .list(&ListParams::default())
        .await;
    assert!(is_forbidden(&r), "impersonated list pods: {r:?}");

    // A real token from the TokenRequest API (exercises the service-account signing keys).
    let token = sas
        .create_token_request(
            "nobody",
            &PostParams::default(),
            &TokenRequest {
                spec: Some(TokenRequestSpec {
                    expiration_seconds: Some(600),
                    ..TokenRequestSpec::default()
                }),
                ..TokenRequest::default()
            },
        )
        .await?
        .status
        .context("TokenRequest returned no status")?
        .token
        .context("TokenRequest returned no token")?;
    let tok = token_client(&token).await?;
    let tok_pods = Api::<Pod>::namespaced(tok.clone(), ns.name());
    let r = tok_pods.list(&ListParams::default()).await;
    assert!(is_forbidden(&r), "token list pods: {r:?}");

    // Control: once a Role allows it, the same identity may list pods, so the 403 above came
    // from RBAC and not from broken authentication.
    let roles: Api<Role> = ns.api();
    roles
        .create(
            &PostParams::default(),
            &Role {
                metadata: meta("pod-reader"),
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["pods".into()]),
                    verbs: vec!["list".into(), "get".into()],
                    ..PolicyRule::default()
                }]),
            },
        )
        .await?;
    let bindings: Api<RoleBinding> = ns.api();
    bindings
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: meta("nobody-reads-pods"),
                role_ref: RoleRef {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "Role".into(),
                    name: "pod-reader".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: "nobody".into(),
                    namespace: Some(ns.name().to_string()),
                    ..Subject::default()
                }]),
            },
        )
        .await?;
    poll_until("the role binding to take effect", TIMEOUT, || {
        let tok_pods = tok_pods.clone();
        async move { Ok(tok_pods.list(&ListParams::default()).await.ok().map(|_| ())) }
    })
    .await?;
    // Still no write access.
    let r = tok_pods.delete("anything", &DeleteParams::default()).await;
    assert!(is_forbidden(&r), "token delete pod: {r:?}");
    ns.cleanup().await
}

#[tokio::test]
async fn dropped_test_namespace_is_deleted() -> Result<()> {
    let ns = TestNamespace::on_kwok("smoke-drop").await?;
    let name = ns.name().to_string();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ns.client());
    drop(ns);
    poll_until(
        &format!("dropped namespace {name} to be deleted"),
        TIMEOUT,
        || {
            let namespaces = namespaces.clone();
            let name = name.clone();
            async move {
                let gone = match namespaces.get_opt(&name).await? {
                    None => true,
                    Some(n) => n.metadata.deletion_timestamp.is_some(),
                };
                Ok(gone.then_some(()))
            }
        },
    )
    .await
}
