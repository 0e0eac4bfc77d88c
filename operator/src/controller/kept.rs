//! The compact stores behind the watch caches ([`super::cache`]): of each object only what a
//! reconcile reads, by namespace and name, in a few hundred bytes.
//!
//! kube's reflector store keeps every object whole (an `ObjectMeta` of ≈ 360 bytes before any
//! string, a B-tree leaf of ≈ 540 bytes per label or annotation map) behind a key of four
//! more strings: ≈ 2.5 KiB per object after trimming, ≈ 92 KiB for a 5-service stack's 21
//! objects. Here an object is its own strings (name, version, uid, annotation values) in one
//! allocation ([`Packed`]), its generation and deletion mark, its label set, annotation keys
//! and owners each shared by every object that carries the same ([`interned`]), and the part
//! of its body a rule reads
//! ([`super::cache::Cached::body`]). A reconcile gets the objects back as the kind's type
//! ([`Store::of_stack`]), so nothing downstream changes.
//!
//! The stores follow kube's reflector semantics: a (re-)list is collected aside and swapped in
//! whole at its end, so a reader never sees half a list; a store is ready once its first list
//! is complete, and any number of reconciles may wait for that at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::runtime::watcher::Event;
use kube::Resource;
use tokio::sync::watch;

use super::cache::Cached;
use super::interned::{self, Interner, Keys, Labels, Owners, Shared};
use super::packed::Packed;
use crate::render::LABEL_STACK;

/// What a store keeps of one object.
#[derive(Clone, Debug)]
struct Kept<B> {
    /// The name, resourceVersion, uid and the annotations' values (in `annotation_keys`'
    /// order): one allocation.
    text: Packed,
    generation: Option<i64>,
    deletion: Option<Time>,
    /// Kept once per store ([`interned`]): the objects of a stack carry the same trimmed
    /// labels.
    labels: Labels,
    annotation_keys: Keys,
    /// Kept once per process: every object of a stack has the stack as its owner.
    owners: Option<Owners>,
    body: B,
}

impl<B> Kept<B> {
    fn name(&self) -> &str {
        self.text.first()
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// The objects of one store by namespace, each namespace's sorted by name.
type Objects<B> = HashMap<Shared, Vec<Kept<B>>>;

/// A store's readable end: cloned into every reconcile.
#[derive(Clone)]
pub(crate) struct Store<C: Cached> {
    objects: Arc<RwLock<Objects<C::Body>>>,
    ready: watch::Receiver<bool>,
}

/// A store's writing end, fed by one watch.
pub(crate) struct Writer<C: Cached> {
    objects: Arc<RwLock<Objects<C::Body>>>,
    ready: watch::Sender<bool>,
    /// The list in progress (between `Init` and `InitDone`).
    listing: Option<Objects<C::Body>>,
    interned: Interner,
}

/// An empty store and the writer that fills it.
pub(crate) fn store<C: Cached>() -> (Store<C>, Writer<C>) {
    let objects = Arc::new(RwLock::new(HashMap::new()));
    let (sender, ready) = watch::channel(false);
    let store = Store {
        objects: objects.clone(),
        ready,
    };
    let writer = Writer {
        objects,
        ready: sender,
        listing: None,
        interned: Interner::default(),
    };
    (store, writer)
}

impl<C: Cached> Store<C> {
    /// Waits until the store has seen its first complete list; `false` if its watch ended
    /// before that.
    pub(crate) async fn wait_until_ready(&self) -> bool {
        let mut ready = self.ready.clone();
        let ready = ready.wait_for(|r| *r).await.is_ok();
        ready
    }

    /// The objects in `namespace` labelled for `stack`, by name, as the kind's type with what
    /// the store keeps (the rest defaulted).
    pub(crate) fn of_stack(&self, namespace: &str, stack: &str) -> BTreeMap<String, C::Full> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects
            .get(namespace)
            .into_iter()
            .flatten()
            .filter(|kept| kept.label(LABEL_STACK) == Some(stack))
            .map(|kept| (kept.name().to_string(), full::<C>(namespace, kept)))
            .collect()
    }

    /// The object `name` in `namespace`, as kept.
    #[cfg(test)]
    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<C::Full> {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        let list = objects.get(namespace)?;
        let at = list.binary_search_by(|k| k.name().cmp(name)).ok()?;
        Some(full::<C>(namespace, &list[at]))
    }

    /// How many objects the store holds.
    pub(crate) fn len(&self) -> usize {
        let objects = self.objects.read().unwrap_or_else(|e| e.into_inner());
        objects.values().map(Vec::len).sum()
    }
}

/// `kept` (in `namespace`) as an object of the cached kind.
fn full<C: Cached>(namespace: &str, kept: &Kept<C::Body>) -> C::Full {
    let mut object = C::from_body(&kept.body);
    let meta = object.meta_mut();
    let mut text = kept.text.parts();
    let mut next = || text.next().flatten().map(str::to_string);
    meta.name = next();
    meta.resource_version = next();
    meta.uid = next();
    meta.annotations = (!kept.annotation_keys.is_empty()).then(|| {
        kept.annotation_keys
            .iter()
            .map(|k| (k.to_string(), next().unwrap_or_default()))
            .collect()
    });
    meta.namespace = Some(namespace.to_string());
    meta.generation = kept.generation;
    meta.deletion_timestamp = kept.deletion.clone();
    meta.labels = (!kept.labels.is_empty()).then(|| {
        kept.labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    meta.owner_references = kept.owners.as_deref().map(<[OwnerReference]>::to_vec);
    object
}

impl<C: Cached> Writer<C> {
    /// Keeps what `event` of the store's watch says, as kube's reflector would.
    pub(crate) fn apply_watcher_event(&mut self, event: &Event<C>) {
        match event {
            Event::Init => self.listing = Some(HashMap::new()),
            Event::InitApply(object) => {
                let mut listing = self.listing.take().unwrap_or_default();
                self.insert(&mut listing, object);
                self.listing = Some(listing);
            }
            Event::InitDone => {
                let mut listing = self.listing.take().unwrap_or_default();
                listing.values_mut().for_each(Vec::shrink_to_fit);
                *self.objects.write().unwrap_or_else(|e| e.into_inner()) = listing;
                // What no object refers to any more is forgotten with the list.
                self.interned.sweep();
                self.ready.send_replace(true);
            }
            Event::Apply(object) => {
                let objects = self.objects.clone();
                let mut objects = objects.write().unwrap_or_else(|e| e.into_inner());
                self.insert(&mut objects, object);
            }
            Event::Delete(object) => {
                let meta = object.meta();
                let (Some(namespace), Some(name)) = (&meta.namespace, &meta.name) else {
                    return;
                };
                let mut objects = self.objects.write().unwrap_or_else(|e| e.into_inner());
                let Some(list) = objects.get_mut(namespace.as_str()) else {
                    return;
                };
                if let Ok(at) = list.binary_search_by(|k| k.name().cmp(name)) {
                    list.remove(at);
                }
                if list.is_empty() {
                    objects.remove(namespace.as_str());
                }
                let namespaces = objects.len();
                drop(objects);
                self.interned.deleted(namespaces);
            }
        }
    }

    fn insert(&mut self, objects: &mut Objects<C::Body>, object: &C) {
        let meta = object.meta();
        let (Some(namespace), Some(name)) = (&meta.namespace, &meta.name) else {
            return;
        };
        let annotations = meta.annotations.iter().flatten();
        let own = [&meta.name, &meta.resource_version, &meta.uid];
        let kept = Kept {
            text: Packed::new(
                (own.into_iter().map(Option::as_deref))
                    .chain(annotations.clone().map(|(_, v)| Some(v.as_str()))),
            ),
            generation: meta.generation,
            deletion: meta.deletion_timestamp.clone(),
            labels: self.interned.labels(meta.labels.iter().flatten()),
            annotation_keys: self.interned.keys(annotations.map(|(k, _)| k)),
            owners: meta.owner_references.as_deref().map(interned::owners),
            body: object.body(),
        };
        let list = objects.entry(self.interned.string(namespace)).or_default();
        match list.binary_search_by(|k| k.name().cmp(name)) {
            Ok(at) => list[at] = kept,
            Err(at) => {
                list.reserve_exact(1);
                list.insert(at, kept);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;
    use kube::api::PartialObjectMeta;
    use serde_json::json;

    use super::*;

    fn service(
        namespace: &str,
        name: &str,
        stack: &str,
        version: &str,
    ) -> PartialObjectMeta<Service> {
        serde_json::from_value(json!({"metadata": {
            "name": name, "namespace": namespace, "resourceVersion": version, "uid": format!("uid-{name}"),
            "labels": {LABEL_STACK: stack, "app.kubernetes.io/managed-by": "devstack"},
            "annotations": {"devstack.dev/desired-hash": format!("hash-{name}")},
            "ownerReferences": [{"apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack", "name": stack, "uid": format!("owner-{stack}"), "controller": true}]
        }}))
        .unwrap()
    }

    fn names(
        store: &Store<PartialObjectMeta<Service>>,
        namespace: &str,
        stack: &str,
    ) -> Vec<String> {
        store.of_stack(namespace, stack).into_keys().collect()
    }

    #[test]
    fn an_object_comes_back_with_what_the_operator_reads() {
        let (store, mut writer) = store::<PartialObjectMeta<Service>>();
        writer.apply_watcher_event(&Event::Init);
        let object = service("team", "api", "demo", "7");
        writer.apply_watcher_event(&Event::InitApply(object.clone()));
        writer.apply_watcher_event(&Event::InitDone);
        let back = store.get("team", "api").unwrap();
        assert_eq!(back.metadata, object.metadata);
    }

    #[test]
    fn every_annotation_and_an_absent_uid_come_back_as_they_were() {
        let (store, mut writer) = store::<PartialObjectMeta<Service>>();
        writer.apply_watcher_event(&Event::Init);
        let mut object = service("team", "api", "demo", "7");
        object.metadata.uid = None;
        let annotations = object.metadata.annotations.as_mut().unwrap();
        annotations.insert("devstack.dev/local".into(), String::new());
        annotations.insert("z.example/long".into(), "ü".repeat(200));
        writer.apply_watcher_event(&Event::InitApply(object.clone()));
        writer.apply_watcher_event(&Event::InitApply(service("team", "db", "demo", "8")));
        writer.apply_watcher_event(&Event::InitDone);
        assert_eq!(store.get("team", "api").unwrap().metadata, object.metadata);
        let db = store.get("team", "db").unwrap().metadata;
        assert_eq!(db.uid.as_deref(), Some("uid-db"));
        assert_eq!(db.annotations.unwrap().len(), 1);
    }

    #[test]
    fn a_relist_replaces_the_store_only_once_complete() {
        let (store, mut writer) = store::<PartialObjectMeta<Service>>();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(service("team", "api", "demo", "1")));
        writer.apply_watcher_event(&Event::InitApply(service("team", "db", "demo", "1")));
        writer.apply_watcher_event(&Event::InitDone);
        // The watch restarts; `db` was deleted while it was down.
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(service("team", "api", "demo", "2")));
        assert_eq!(
            names(&store, "team", "demo"),
            ["api", "db"],
            "half a list is not seen"
        );
        writer.apply_watcher_event(&Event::InitDone);
        assert_eq!(names(&store, "team", "demo"), ["api"]);
        let api = store.get("team", "api").unwrap();
        assert_eq!(api.metadata.resource_version.as_deref(), Some("2"));
    }

    #[test]
    fn objects_are_found_by_namespace_and_stack_and_deleted_by_name() {
        let (store, mut writer) = store::<PartialObjectMeta<Service>>();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        for (namespace, name, stack) in [
            ("a", "web", "one"),
            ("a", "api", "one"),
            ("a", "x", "two"),
            ("b", "api", "one"),
        ] {
            writer.apply_watcher_event(&Event::Apply(service(namespace, name, stack, "1")));
        }
        assert_eq!(names(&store, "a", "one"), ["api", "web"]);
        assert_eq!(names(&store, "a", "two"), ["x"]);
        assert_eq!(names(&store, "b", "one"), ["api"]);
        // Relabelled to another stack: found there only.
        writer.apply_watcher_event(&Event::Apply(service("a", "web", "two", "2")));
        assert_eq!(names(&store, "a", "one"), ["api"]);
        assert_eq!(names(&store, "a", "two"), ["web", "x"]);
        writer.apply_watcher_event(&Event::Delete(service("a", "web", "two", "2")));
        assert_eq!(names(&store, "a", "two"), ["x"]);
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn a_workload_keeps_its_replicas_and_status() {
        let (store, mut writer) = store::<Deployment>();
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "team", "generation": 4, "labels": {LABEL_STACK: "demo", "app": "api"}},
            "spec": {"replicas": 2, "selector": {}, "template": {"spec": {"containers": [{"name": "api", "image": "x"}]}}},
            "status": {"observedGeneration": 4, "replicas": 2, "readyReplicas": 1}
        }))
        .unwrap();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(deployment.clone()));
        writer.apply_watcher_event(&Event::InitDone);
        let back = store.of_stack("team", "demo").remove("api").unwrap();
        assert_eq!(back.spec.replicas, Some(2));
        assert_eq!(back.status, deployment.status);
        assert_eq!(
            back.metadata.labels, deployment.metadata.labels,
            "every label kept"
        );
        assert_eq!(back.metadata.generation, Some(4));
    }

    #[test]
    fn a_secret_keeps_its_type_and_values() {
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
            "metadata": {"name": "creds", "namespace": "team", "labels": {LABEL_STACK: "demo"}},
            "type": "Opaque",
            "data": {"PASSWORD": "czNjcjN0", "USER": "YXBw", "EMPTY": ""}
        }))
        .unwrap();
        let (store, mut writer) = store::<k8s_openapi::api::core::v1::Secret>();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitApply(secret.clone()));
        writer.apply_watcher_event(&Event::InitDone);
        let back = store.get("team", "creds").unwrap();
        assert_eq!(back.data, secret.data);
        assert_eq!(back.type_.as_deref(), Some("Opaque"));
    }

    #[tokio::test]
    async fn every_waiter_sees_the_first_complete_list() {
        let (store, mut writer) = store::<Deployment>();
        let waiters: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.wait_until_ready().await })
            })
            .collect();
        writer.apply_watcher_event(&Event::Init);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "a list in progress is not complete"
        );
        writer.apply_watcher_event(&Event::InitDone);
        for waiter in waiters {
            assert!(waiter.await.unwrap());
        }
        drop(writer);
        assert!(store.wait_until_ready().await, "ready stays ready");
    }
}
