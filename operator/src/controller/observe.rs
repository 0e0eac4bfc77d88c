//! What the API server holds for one stack, read once at the start of a reconcile.
//!
//! The stack's objects of each kind the renderer makes are read by the stack label from the
//! operator's own watch caches ([`super::cache`]; listed, one request per kind, where there
//! are none) and serve the ownership
//! check, the comparison before each write and pruning. Only a rendered object missing from
//! those lists is read by name ([`Observed::read_missing`]): a same-named object without our
//! label is someone else's, and is reported instead of written. At 1,000 stacks this keeps a
//! reconcile at a few round trips instead of two sequential requests per object.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use futures::TryFutureExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::NamespaceResourceScope;
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::cache::{self, Cached, Store, Stores};
use super::error::Error;
use super::verified::Verified;
use crate::render::LABEL_STACK;

/// A kind the operator writes: namespaced, typed, (de)serializable, and kept by type in
/// [`Observed`].
pub(crate) trait OwnedKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Default
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// This kind's objects in `observed`.
    fn of(observed: &Observed) -> &BTreeMap<String, Self>;
    /// This kind's objects in `observed`, to change.
    fn of_mut(observed: &mut Observed) -> &mut BTreeMap<String, Self>;
}

macro_rules! owned_kind {
    ($kind:ty, $field:ident) => {
        impl OwnedKind for $kind {
            fn of(observed: &Observed) -> &BTreeMap<String, Self> {
                &observed.$field
            }
            fn of_mut(observed: &mut Observed) -> &mut BTreeMap<String, Self> {
                &mut observed.$field
            }
        }
    };
}

owned_kind!(Secret, secrets);
owned_kind!(ConfigMap, config_maps);
owned_kind!(NetworkPolicy, policies);
owned_kind!(Service, services);
owned_kind!(Deployment, deployments);
owned_kind!(StatefulSet, statefulsets);
owned_kind!(PersistentVolumeClaim, claims);

/// The live objects of one stack by kind and name: everything labelled for the stack, plus
/// whatever holds a rendered name without that label (read by name).
#[derive(Clone, Debug, Default)]
pub(crate) struct Observed {
    secrets: BTreeMap<String, Secret>,
    config_maps: BTreeMap<String, ConfigMap>,
    policies: BTreeMap<String, NetworkPolicy>,
    services: BTreeMap<String, Service>,
    deployments: BTreeMap<String, Deployment>,
    statefulsets: BTreeMap<String, StatefulSet>,
    /// Claims are listed only when needed ([`Observed::list_claims`]).
    claims: BTreeMap<String, PersistentVolumeClaim>,
    /// `(kind, name)` of every rendered object read by name (found or not).
    read: BTreeSet<(String, String)>,
    /// Whether the objects came from the watch caches: an object absent from them is not
    /// read before it is created ([`Observed::cached`]).
    cached: bool,
}

impl Observed {
    /// The objects labelled for `stack` in `namespace`: from `cached` (the watch caches of
    /// the namespace, once synced; see [`super::cache`]), else listed (one request per kind).
    /// A cached object kept in part (metadata, a workload without its template) whose
    /// version moved since the operator last saw it hold what it wants (`verified`) is read
    /// by name, so the write path compares the whole object; the others stay as kept. After a
    /// restart, the record is first restored from `digest` ([`super::digest`]) if it matches.
    pub(crate) async fn list(
        client: &Client,
        namespace: &str,
        stack: &str,
        cached: Option<&Stores>,
        verified: &Verified,
        digest: Option<&str>,
    ) -> Result<Self, Error> {
        let cached = match cached {
            Some(stores) if stores.wait_ready().await => Some(stores),
            _ => None,
        };
        let mut observed = Self::from_caches_or_lists(client, namespace, stack, cached).await?;
        observed.cached = cached.is_some();
        if cached.is_some() {
            super::digest::restore(&observed, digest, verified);
            observed
                .read_changed::<ConfigMap>(client, namespace, stack, verified)
                .await?;
            observed
                .read_changed::<NetworkPolicy>(client, namespace, stack, verified)
                .await?;
            observed
                .read_changed::<Service>(client, namespace, stack, verified)
                .await?;
            observed
                .read_changed::<Deployment>(client, namespace, stack, verified)
                .await?;
            observed
                .read_changed::<StatefulSet>(client, namespace, stack, verified)
                .await?;
        }
        Ok(observed)
    }

    /// Reads every object of kind `K` whose version moved since it was last seen holding
    /// what the operator wanted ([`Verified::unchanged`]): by name, or, when several did (after
    /// a restart the record is empty), all of the stack's objects of the kind in one LIST.
    /// One gone meanwhile is dropped.
    async fn read_changed<K: OwnedKind>(
        &mut self,
        client: &Client,
        namespace: &str,
        stack: &str,
        verified: &Verified,
    ) -> Result<(), Error> {
        use futures::{StreamExt, TryStreamExt};
        let kind = K::kind(&()).to_string();
        let changed: Vec<String> = K::of(self)
            .iter()
            .filter(|(_, object)| !verified.unchanged(&kind, object.meta()))
            .map(|(name, _)| name.clone())
            .collect();
        if changed.len() > 1 {
            *K::of_mut(self) =
                list::<K>(client, namespace, &format!("{LABEL_STACK}={stack}")).await?;
            return Ok(());
        }
        let reads = changed.into_iter().map(|name| {
            read::<K>(client.clone(), namespace, name.clone()).map_ok(move |found| (name, found))
        });
        let found: Vec<(String, Option<K>)> = futures::stream::iter(reads)
            .buffer_unordered(super::apply::PARALLELISM)
            .try_collect()
            .await?;
        for (name, object) in found {
            match object {
                Some(object) => K::of_mut(self).insert(name, object),
                None => K::of_mut(self).remove(&name),
            };
        }
        Ok(())
    }

    async fn from_caches_or_lists(
        client: &Client,
        namespace: &str,
        stack: &str,
        cached: Option<&Stores>,
    ) -> Result<Self, Error> {
        let (secrets, config_maps, policies, services, deployments, statefulsets) = futures::try_join!(
            cached_or_list(client, namespace, stack, cached.map(|c| &c.secrets)),
            cached_or_list(client, namespace, stack, cached.map(|c| &c.config_maps)),
            cached_or_list(client, namespace, stack, cached.map(|c| &c.policies)),
            cached_or_list(client, namespace, stack, cached.map(|c| &c.services)),
            cached_or_list(client, namespace, stack, cached.map(|c| &c.deployments)),
            cached_or_list(client, namespace, stack, cached.map(|c| &c.statefulsets)),
        )?;
        Ok(Observed {
            secrets,
            config_maps,
            policies,
            services,
            deployments,
            statefulsets,
            claims: BTreeMap::new(),
            read: BTreeSet::new(),
            cached: false,
        })
    }

    /// Lists the claims labelled for `stack` (data volumes of its StatefulSets).
    pub(crate) async fn list_claims(
        &mut self,
        client: &Client,
        namespace: &str,
        stack: &str,
    ) -> Result<&BTreeMap<String, PersistentVolumeClaim>, Error> {
        let selector = format!("{LABEL_STACK}={stack}");
        self.claims = list::<PersistentVolumeClaim>(client, namespace, &selector).await?;
        Ok(&self.claims)
    }

    /// The object `name` of kind `K`: as listed, else read by name (and kept).
    pub(crate) async fn read<K: OwnedKind>(
        &mut self,
        client: &Client,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&K>, Error> {
        if K::of(self).get(name).is_none() {
            if let Some(object) = read::<K>(client.clone(), namespace, name.to_string()).await? {
                self.insert(object);
            }
        }
        Ok(K::of(self).get(name))
    }

    /// The live object `name` of kind `K`, if any.
    pub(crate) fn get<K: OwnedKind>(&self, name: &str) -> Option<&K> {
        K::of(self).get(name)
    }

    /// Every live object of kind `K`.
    pub(crate) fn all<K: OwnedKind>(&self) -> &BTreeMap<String, K> {
        K::of(self)
    }

    /// Whether `kind`/`name` was read by name in this reconcile.
    pub(crate) fn was_read(&self, kind: &str, name: &str) -> bool {
        self.read.contains(&(kind.to_string(), name.to_string()))
    }

    /// Whether the objects came from the watch caches. Then a rendered object absent from
    /// them is not read by name before it is created: the create carries a uid no object has
    /// ([`super::write`]), so it fails on a same-named object (someone else's, or ours that
    /// the cache does not hold yet) instead of taking it over, and only then is that name read.
    pub(crate) fn cached(&self) -> bool {
        self.cached
    }

    /// Reads by name every object of `rendered` (`(kind, name)`) the lists did not return (at
    /// most `parallelism` requests in flight), but the workloads named in `held_back`: they
    /// are not created in this pass, and are read just before they are ([`read_one`]).
    pub(crate) async fn read_missing(
        &mut self,
        client: &Client,
        namespace: &str,
        rendered: &[(String, String)],
        held_back: &BTreeSet<String>,
        parallelism: usize,
    ) -> Result<(), Error> {
        use futures::{FutureExt, StreamExt};
        type Read<'r> = futures::future::BoxFuture<'r, Result<Option<Found>, Error>>;
        let mut reads: Vec<Read<'_>> = Vec::new();
        for (kind, name) in rendered {
            let workload = kind == "Deployment" || kind == "StatefulSet";
            if workload && held_back.contains(name) {
                continue;
            }
            let (client, name) = (client.clone(), name.clone());
            let read = match kind.as_str() {
                "Secret" if self.get::<Secret>(&name).is_none() => {
                    read::<Secret>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::Secret))
                        .boxed()
                }
                "ConfigMap" if self.get::<ConfigMap>(&name).is_none() => {
                    read::<ConfigMap>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::ConfigMap))
                        .boxed()
                }
                "NetworkPolicy" if self.get::<NetworkPolicy>(&name).is_none() => {
                    read::<NetworkPolicy>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::Policy))
                        .boxed()
                }
                "Service" if self.get::<Service>(&name).is_none() => {
                    read::<Service>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::Service))
                        .boxed()
                }
                "Deployment" if self.get::<Deployment>(&name).is_none() => {
                    read::<Deployment>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::Deployment))
                        .boxed()
                }
                "StatefulSet" if self.get::<StatefulSet>(&name).is_none() => {
                    read::<StatefulSet>(client, namespace, name.clone())
                        .map_ok(|o| o.map(Found::StatefulSet))
                        .boxed()
                }
                _ => continue,
            };
            self.read.insert((kind.clone(), name));
            reads.push(read);
        }
        let found: Vec<Option<Found>> = futures::stream::iter(reads)
            .buffer_unordered(parallelism)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        for object in found.into_iter().flatten() {
            match object {
                Found::Secret(o) => self.insert(o),
                Found::ConfigMap(o) => self.insert(o),
                Found::Policy(o) => self.insert(o),
                Found::Service(o) => self.insert(o),
                Found::Deployment(o) => self.insert(o),
                Found::StatefulSet(o) => self.insert(o),
            }
        }
        Ok(())
    }

    fn insert<K: OwnedKind>(&mut self, object: K) {
        let name = object.meta().name.clone().unwrap_or_default();
        K::of_mut(self).insert(name, object);
    }
}

/// The object `name` of kind `K`, read by name (a workload about to be created that was held
/// back when the reconcile began: a same-named object of someone else's is refused, never
/// written).
pub(crate) async fn read_one<K: OwnedKind>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, Error> {
    read::<K>(client.clone(), namespace, name.to_string()).await
}

/// An object read by name.
enum Found {
    Secret(Secret),
    ConfigMap(ConfigMap),
    Policy(NetworkPolicy),
    Service(Service),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
}

async fn read<K: OwnedKind>(
    client: Client,
    namespace: &str,
    name: String,
) -> Result<Option<K>, Error> {
    let kind = K::kind(&()).to_string();
    let object = Api::<K>::namespaced(client, namespace)
        .get_opt(&name)
        .await
        .map_err(Error::kube("read", &kind, &name))?;
    Ok(object.map(without_managed_fields))
}

/// The objects of kind `C::Full` labelled for `stack`: from `store` (ready), else listed.
async fn cached_or_list<C: Cached>(
    client: &Client,
    namespace: &str,
    stack: &str,
    store: Option<&Store<C>>,
) -> Result<BTreeMap<String, C::Full>, Error> {
    if let Some(store) = store {
        return Ok(cache::of_stack(store, namespace, stack));
    }
    list::<C::Full>(client, namespace, &format!("{LABEL_STACK}={stack}")).await
}

async fn list<K: OwnedKind>(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<BTreeMap<String, K>, Error> {
    let kind = K::kind(&()).to_string();
    let list = Api::<K>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(Error::kube("list", &kind, selector))?;
    // Kept typed and without managedFields: at 64 concurrent reconciles, JSON trees of every
    // listed object were most of the peak RSS.
    Ok(list
        .items
        .into_iter()
        .map(without_managed_fields)
        .map(|object| (object.meta().name.clone().unwrap_or_default(), object))
        .collect())
}

fn without_managed_fields<K: Resource>(mut object: K) -> K {
    super::ownership::forget_managed_fields(object.meta_mut());
    object
}
