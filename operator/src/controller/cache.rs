//! The watch caches a reconcile reads instead of listing: the stack's objects of every kind
//! it writes (Secrets, ConfigMaps, NetworkPolicies, Services, Deployments, StatefulSets), as
//! the owned-object watches ([`super::triggers`]) pass them on, each kept in a compact store
//! ([`super::kept`]: a few hundred bytes per object) before the event that wakes a stack is
//! passed on. What each store keeps besides name, version, uid, generation and deletion mark:
//!
//! - ConfigMaps, NetworkPolicies, Services: the stack and managed-by labels, the
//!   `devstack.dev/` annotations with the desired hash, owner references: what the ownership
//!   check and pruning read. Their bodies are compared only when their version moved since the
//!   operator last saw them hold what it wants ([`super::verified`]), and then read by name
//!   first ([`super::observe`]).
//! - Deployments, StatefulSets: every label and annotation (a label edit does not move the
//!   generation, so their metadata is compared from the cache), the replicas and the status
//!   the readiness rule reads on every reconcile (a read by name per workload and reconcile
//!   would cost more requests than the status costs memory).
//! - Secrets: every label and annotation, the type and the values. The credentials are read
//!   from their Secret on every reconcile (a read by name per reconcile otherwise), and a
//!   Secret is compared whole (its hash leaves the values out).
//!
//! Claims are not cached (listed only on reset and deletion).
//!
//! A reconcile of a stack in a namespace whose stores are registered reads that stack's
//! objects from them (labelled `devstack.dev/stack=<stack>`, the same selection as the
//! LIST it replaces) after the store has seen its first complete list: an unsynced store never
//! makes an object look absent, so nothing is created twice and nothing is pruned from an
//! empty cache. A store lagging behind the API server is safe the same way a LIST answered
//! from the API server's watch cache was: an object it does not hold yet is read by name
//! before it is created ([`super::observe::Observed::read_missing`], `held`), and the watch
//! event that brings it wakes the stack again. Without registered stores (the unit tests'
//! fake API server, or a store that is not ready within [`READY_TIMEOUT`]) the reconcile
//! lists, as before.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, StatefulSet, StatefulSetSpec, StatefulSetStatus,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::ByteString;
use kube::api::PartialObjectMeta;
use kube::Resource;
use tracing::warn;

pub(crate) use super::kept::{store, Store, Writer};
use super::observe::OwnedKind;
use crate::render::LABEL_STACK;

/// How long a reconcile waits for a store's first complete list before it lists instead.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The stores of one watched namespace (or of all): the objects of each kind labelled
/// `devstack.dev/stack`, as kept ([`super::kept`]).
#[derive(Clone)]
pub(crate) struct Stores {
    /// Secrets.
    pub secrets: Store<Secret>,
    /// ConfigMaps (metadata).
    pub config_maps: Store<PartialObjectMeta<ConfigMap>>,
    /// NetworkPolicies (metadata).
    pub policies: Store<PartialObjectMeta<NetworkPolicy>>,
    /// Services (metadata).
    pub services: Store<PartialObjectMeta<Service>>,
    /// Deployments.
    pub deployments: Store<Deployment>,
    /// StatefulSets.
    pub statefulsets: Store<StatefulSet>,
}

impl Stores {
    /// Whether every store has seen its first complete list, waiting for it up to
    /// [`READY_TIMEOUT`]: `false` means the caller lists instead. Any number of reconciles
    /// wait at once (each store's readiness is a watch channel; kube's was a oneshot that
    /// woke only the last waiter).
    pub(crate) async fn wait_ready(&self) -> bool {
        let all = async {
            self.secrets.wait_until_ready().await
                && self.config_maps.wait_until_ready().await
                && self.policies.wait_until_ready().await
                && self.services.wait_until_ready().await
                && self.deployments.wait_until_ready().await
                && self.statefulsets.wait_until_ready().await
        };
        let waited = tokio::time::timeout(READY_TIMEOUT, all)
            .await
            .unwrap_or(false);
        if !waited {
            warn!("watch caches not ready; listing instead");
        }
        waited
    }
}

/// Every registered store, by the namespace its watches cover (`None`: all namespaces).
#[derive(Default)]
pub(crate) struct Caches {
    stores: RwLock<HashMap<Option<String>, Stores>>,
}

impl Caches {
    /// Registers the stores of the watches of `namespace` (`None`: all).
    pub(crate) fn register(&self, namespace: Option<String>, stores: Stores) {
        let mut map = self.stores.write().unwrap_or_else(|e| e.into_inner());
        map.insert(namespace, stores);
    }

    /// The stores whose watches cover `namespace`, if any.
    pub(crate) fn stores(&self, namespace: &str) -> Option<Stores> {
        let map = self.stores.read().unwrap_or_else(|e| e.into_inner());
        map.get(&Some(namespace.to_string()))
            .or_else(|| map.get(&None))
            .cloned()
    }
}

/// What a store keeps of an object of kind [`Cached::Full`] besides its metadata, and how
/// that becomes one again.
pub(crate) trait Cached: Resource<DynamicType = ()> + Clone + Send + Sync + 'static {
    /// The kind.
    type Full: OwnedKind;
    /// The part of the body a rule reads.
    type Body: Clone + std::fmt::Debug + Send + Sync + 'static;
    /// What the store keeps of this object's body.
    fn body(&self) -> Self::Body;
    /// An object of the kind with `body` and empty metadata.
    fn from_body(body: &Self::Body) -> Self::Full;
}

impl<K: OwnedKind> Cached for PartialObjectMeta<K> {
    type Full = K;
    type Body = ();
    fn body(&self) {}
    fn from_body(_: &()) -> K {
        K::default()
    }
}

/// What a metadata store keeps of `object`: of the labels and annotations, only those the
/// operator reads — the stack and managed-by labels (ownership, the stack's selection) and the
/// `devstack.dev/` annotations (the desired hash, the local mark of a POST) — and no
/// managedFields. An object at the version at which the operator saw it hold what it wants is
/// exactly that object, metadata included ([`super::write`] compares no further); one whose
/// version moved is read whole first.
pub(crate) fn keep_metadata<K>(object: &mut PartialObjectMeta<K>) {
    super::ownership::forget_managed_fields(&mut object.metadata);
    object.types = None;
    if let Some(labels) = object.metadata.labels.as_mut() {
        labels.retain(|k, _| k == LABEL_STACK || k == super::ownership::LABEL_MANAGED_BY);
    }
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.retain(|k, _| k.starts_with("devstack.dev/"));
    }
}

/// A workload's replicas and status: what the readiness rule reads
/// ([`super::status::deployment_ready`]); its spec beyond that is compared only once its
/// generation moved, after a read by name.
impl Cached for Deployment {
    type Full = Deployment;
    type Body = (Option<i32>, Option<DeploymentStatus>);
    fn body(&self) -> Self::Body {
        (self.spec.replicas, self.status.clone())
    }
    fn from_body((replicas, status): &Self::Body) -> Deployment {
        Deployment {
            spec: DeploymentSpec {
                replicas: *replicas,
                ..DeploymentSpec::default()
            },
            status: status.clone(),
            ..Deployment::default()
        }
    }
}

impl Cached for StatefulSet {
    type Full = StatefulSet;
    type Body = (Option<i32>, Option<StatefulSetStatus>);
    fn body(&self) -> Self::Body {
        (self.spec.replicas, self.status.clone())
    }
    fn from_body((replicas, status): &Self::Body) -> StatefulSet {
        StatefulSet {
            spec: StatefulSetSpec {
                replicas: *replicas,
                ..StatefulSetSpec::default()
            },
            status: status.clone(),
            ..StatefulSet::default()
        }
    }
}

/// A Secret's type and values: compared whole (its hash leaves the values out), and the
/// credentials are read from it on every reconcile. The values are kept as one short slice,
/// not a map: a B-tree's leaf has room for eleven entries (≈ 550 bytes) whatever the Secret
/// holds, and there are two Secrets per stack.
impl Cached for Secret {
    type Full = Secret;
    type Body = (Option<Box<str>>, Option<SecretValues>);
    fn body(&self) -> Self::Body {
        let values = self.data.as_ref().map(|data| {
            data.iter()
                .map(|(key, value)| (key.as_str().into(), value.0.as_slice().into()))
                .collect()
        });
        (self.type_.as_deref().map(Into::into), values)
    }
    fn from_body((type_, values): &Self::Body) -> Secret {
        let data = values.as_ref().map(|values| {
            values
                .iter()
                .map(|(key, value)| (key.to_string(), ByteString(value.to_vec())))
                .collect()
        });
        Secret {
            type_: type_.as_deref().map(str::to_string),
            data,
            ..Secret::default()
        }
    }
}

/// A Secret's values by key, in the key order of its `data` map.
type SecretValues = Box<[(Box<str>, Box<[u8]>)]>;

/// The objects of `store` in `namespace` labelled for `stack`, by name (the caller waited
/// for the store's readiness: [`Stores::wait_ready`]), as kept (see the module documentation).
pub(crate) fn of_stack<C: Cached>(
    store: &Store<C>,
    namespace: &str,
    stack: &str,
) -> BTreeMap<String, C::Full> {
    store.of_stack(namespace, stack)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use kube::runtime::watcher::Event;

    use super::*;
    use crate::controller::fixtures::{devstack, FakeApi, NS};
    use crate::controller::reconcile::reconcile;

    const KINDS: [&str; 6] = [
        "secrets",
        "configmaps",
        "networkpolicies",
        "services",
        "deployments",
        "statefulsets",
    ];
    const SMALL: &str = "    db: {type: postgres}\n    api:\n      image: ghcr.io/acme/api:1.0\n      ports: [{name: http, containerPort: 8080}]\n      dependsOn: [db]\n";

    /// A store that has seen one complete list: the fake's objects of `resource`, as kept.
    fn synced_from<C: Cached + serde::de::DeserializeOwned>(
        fake: &FakeApi,
        resource: &str,
        keep: fn(&mut C),
    ) -> Store<C> {
        let objects: Vec<C> = fake
            .all(resource)
            .into_iter()
            .map(|o| {
                let mut object: C = serde_json::from_value(o).unwrap();
                keep(&mut object);
                object
            })
            .collect();
        assert!(
            !objects.is_empty() || resource == "configmaps",
            "{resource}"
        );
        synced(objects)
    }

    /// A store that has seen one complete list of `objects`.
    fn synced<C: Cached>(objects: Vec<C>) -> Store<C> {
        let (store, mut writer) = store();
        writer.apply_watcher_event(&Event::Init);
        for object in objects {
            writer.apply_watcher_event(&Event::InitApply(object));
        }
        writer.apply_watcher_event(&Event::InitDone);
        store
    }

    /// Stores that have seen one complete list of the fake's objects, kept as the watches keep
    /// them (metadata; workloads without templates; Secrets whole).
    pub(crate) fn stores_from(fake: &FakeApi) -> Stores {
        Stores {
            secrets: synced_from(fake, "secrets", |_| {}),
            config_maps: synced_from(fake, "configmaps", keep_metadata),
            policies: synced_from(fake, "networking.k8s.io/v1/networkpolicies", keep_metadata),
            services: synced_from(fake, "services", keep_metadata),
            deployments: synced_from(fake, "apps/v1/deployments", |_| {}),
            statefulsets: synced_from(fake, "apps/v1/statefulsets", |_| {}),
        }
    }

    #[tokio::test]
    async fn unsynced_stores_are_waited_for_by_every_reconcile_at_once() {
        let (deployments, mut writer) = store::<Deployment>();
        let stores = Stores {
            secrets: synced(vec![]),
            config_maps: synced(vec![]),
            policies: synced(vec![]),
            services: synced(vec![]),
            deployments: deployments.clone(),
            statefulsets: synced(vec![]),
        };
        // Twenty reconciles wait at once (kube's own readiness woke only the last of them).
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let stores = stores.clone();
                tokio::spawn(async move { stores.wait_ready().await })
            })
            .collect();
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api", "namespace": NS, "labels": {LABEL_STACK: "demo"}}
        }))
        .unwrap();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(deployment));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "a list in progress is not complete"
        );
        writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            let ready = tokio::time::timeout(Duration::from_secs(5), waiter)
                .await
                .expect("every waiter woken")
                .unwrap();
            assert!(ready);
        }
        let found = of_stack(&stores.deployments, NS, "demo");
        assert_eq!(found.keys().collect::<Vec<_>>(), vec!["api"]);
        let other = of_stack(&stores.deployments, NS, "other");
        assert!(
            other.is_empty(),
            "another stack's objects are not this one's"
        );
    }

    #[tokio::test]
    async fn a_reconcile_reads_the_stack_from_the_caches_not_a_list() {
        let (fake, ctx) = FakeApi::start();
        reconcile(fake.stack(devstack(SMALL)), ctx.clone())
            .await
            .unwrap();
        ctx.caches
            .register(Some(NS.to_string()), stores_from(&fake));
        fake.take_requests();
        reconcile(fake.stack(fake.stored_stack("demo")), ctx)
            .await
            .unwrap();
        let requests = fake.take_requests();
        let lists: Vec<&str> = requests
            .iter()
            .filter(|r| r.method == http::Method::GET)
            .map(|r| r.path.as_str())
            .filter(|p| {
                p.ends_with(&format!("/namespaces/{NS}/deployments"))
                    || p.ends_with("/statefulsets")
            })
            .collect();
        assert_eq!(lists, Vec::<&str>::new(), "workloads listed");
        let gets: Vec<&str> = requests
            .iter()
            .filter(|r| r.method == http::Method::GET)
            .map(|r| r.path.as_str())
            .filter(|p| KINDS.iter().any(|k| p.contains(&format!("/{k}/"))))
            .collect();
        assert_eq!(gets, Vec::<&str>::new(), "cached objects read by name");
        let writes: Vec<&str> = requests
            .iter()
            .filter(|r| r.is_object_write())
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(writes, Vec::<&str>::new(), "an unchanged stack is written");
        let stack = fake.stored_stack("demo");
        assert!(stack.status.unwrap().services.values().all(|s| s.ready));
    }

    #[tokio::test]
    async fn a_cached_object_is_read_by_name_only_when_its_version_moved() {
        let (fake, ctx) = FakeApi::start();
        reconcile(fake.stack(devstack(SMALL)), ctx.clone())
            .await
            .unwrap();
        // A hand edit of the api Service (its resourceVersion moves), and a status change of
        // the db StatefulSet (its resourceVersion moves, its generation does not).
        let mut service = fake.get("services", "api").unwrap();
        let port = service["spec"]["ports"][0]["port"].clone();
        service["spec"]["ports"][0]["port"] = serde_json::json!(9999);
        service["metadata"]["resourceVersion"] = serde_json::json!("edited");
        fake.put("services", service);
        let mut db = fake.get("apps/v1/statefulsets", "db").unwrap();
        db["status"]["currentRevision"] = serde_json::json!("r2");
        db["metadata"]["resourceVersion"] = serde_json::json!("status-moved");
        fake.put("apps/v1/statefulsets", db);
        ctx.caches
            .register(Some(NS.to_string()), stores_from(&fake));
        fake.take_requests();
        reconcile(fake.stack(fake.stored_stack("demo")), ctx)
            .await
            .unwrap();
        let requests = fake.take_requests();
        let gets: Vec<&str> = requests
            .iter()
            .filter(|r| r.method == http::Method::GET)
            .map(|r| r.path.as_str())
            .filter(|p| KINDS.iter().any(|k| p.contains(&format!("/{k}/"))))
            .collect();
        let service_path = crate::controller::fixtures::path("services", "api");
        // Read before the comparison, and (created by a POST, never applied since) for its
        // managedFields, which are handed to the `Apply` entry before the apply.
        assert_eq!(
            gets,
            vec![service_path.as_str(), service_path.as_str()],
            "only the edited object read"
        );
        let writes: Vec<&str> = requests
            .iter()
            .filter(|r| r.is_object_write())
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(
            writes,
            vec![service_path.as_str(), service_path.as_str()],
            "only the edit repaired (ownership handed over, then applied)"
        );
        let repaired = fake.get("services", "api").unwrap();
        assert_eq!(repaired["spec"]["ports"][0]["port"], port);
    }

    #[tokio::test]
    async fn after_a_restart_each_kind_of_several_objects_is_listed_once() {
        let (fake, ctx) = FakeApi::start();
        reconcile(fake.stack(devstack(SMALL)), ctx.clone())
            .await
            .unwrap();
        ctx.verified.clear();
        ctx.caches
            .register(Some(NS.to_string()), stores_from(&fake));
        fake.take_requests();
        // Without the digest of the record (or with one that does not match the caches:
        // `digest_tests`), the objects are read.
        let mut stack = fake.stored_stack("demo");
        stack.status.as_mut().unwrap().observed_objects = None;
        reconcile(fake.stack(stack), ctx).await.unwrap();
        let requests = fake.take_requests();
        let reads: Vec<&str> = requests
            .iter()
            .filter(|r| r.method == http::Method::GET)
            .map(|r| r.path.as_str())
            .filter(|p| KINDS.iter().any(|k| p.contains(&format!("/{k}"))))
            .collect();
        // SMALL: several policies and Services (one LIST each), one Deployment and one
        // StatefulSet (read by name), no ConfigMap.
        assert_eq!(
            reads,
            [
                format!("/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"),
                format!("/api/v1/namespaces/{NS}/services"),
                format!("/apis/apps/v1/namespaces/{NS}/deployments/api"),
                format!("/apis/apps/v1/namespaces/{NS}/statefulsets/db"),
            ]
        );
        let writes = requests.iter().filter(|r| r.is_object_write()).count();
        assert_eq!(
            writes, 0,
            "an unchanged stack is not written after a restart"
        );
    }
}
