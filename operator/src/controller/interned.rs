//! What the compact stores ([`super::kept`]) keep once instead of once per object: strings
//! (label keys and values, annotation keys, namespaces), label sets and annotation key lists
//! per store, and owner lists for every store of the process (every object of a stack is owned
//! by the stack, whatever its kind).
//!
//! An entry no object refers to any more is forgotten by [`Interner::sweep`]: at the end of
//! every (re-)list, and after as many deletions as the store has namespaces (at least 64), so
//! a sweep's cost is spread over the deletions that made it worthwhile.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// A string kept once per store.
pub(crate) type Shared = Arc<str>;

/// A label set, kept once per store.
pub(crate) type Labels = Arc<[(Shared, Shared)]>;

/// An object's annotation keys, kept once per store.
pub(crate) type Keys = Arc<[Shared]>;

/// An owner list, kept once per process.
pub(crate) type Owners = Arc<[OwnerReference]>;

/// Owner lists by their first owner's uid (`OwnerReference` has no `Hash`).
static OWNERS: LazyLock<Mutex<HashMap<Box<str>, Vec<Owners>>>> = LazyLock::new(Default::default);

/// One store's interned values.
#[derive(Default)]
pub(crate) struct Interner {
    strings: HashSet<Shared>,
    labels: HashSet<Labels>,
    keys: HashSet<Keys>,
    /// Deletions since the last sweep.
    deleted: usize,
}

impl Interner {
    /// The one copy of `text`.
    pub(crate) fn string(&mut self, text: &str) -> Shared {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Shared = text.into();
        self.strings.insert(shared.clone());
        shared
    }

    /// The one copy of the label set of `pairs`.
    pub(crate) fn labels<'a>(
        &mut self,
        pairs: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Labels {
        let pairs: Vec<_> = pairs
            .map(|(k, v)| (self.string(k), self.string(v)))
            .collect();
        intern(&mut self.labels, pairs)
    }

    /// The one copy of the key list of `keys`.
    pub(crate) fn keys<'a>(&mut self, keys: impl Iterator<Item = &'a String>) -> Keys {
        let keys: Vec<_> = keys.map(|k| self.string(k)).collect();
        intern(&mut self.keys, keys)
    }

    /// Counts a deleted object; sweeps once as many were deleted as the store has
    /// `namespaces` (at least 64).
    pub(crate) fn deleted(&mut self, namespaces: usize) {
        self.deleted += 1;
        if self.deleted >= namespaces.max(64) {
            self.sweep();
        }
    }

    /// Forgets what no object refers to any more (the sets first: they hold strings).
    pub(crate) fn sweep(&mut self) {
        self.labels.retain(|s| Arc::strong_count(s) > 1);
        self.keys.retain(|s| Arc::strong_count(s) > 1);
        self.strings.retain(|s| Arc::strong_count(s) > 1);
        let mut owners = OWNERS.lock().unwrap_or_else(|e| e.into_inner());
        owners.retain(|_, lists| {
            lists.retain(|list| Arc::strong_count(list) > 1);
            !lists.is_empty()
        });
        self.deleted = 0;
    }

    /// How many values the store keeps interned (strings, label sets, key lists).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.strings.len() + self.labels.len() + self.keys.len()
    }
}

/// The one copy, for every store of the process, of the owner list `owners`.
pub(crate) fn owners(owners: &[OwnerReference]) -> Owners {
    let key = owners.first().map(|o| o.uid.as_str()).unwrap_or_default();
    let mut table = OWNERS.lock().unwrap_or_else(|e| e.into_inner());
    let lists = table.entry(key.into()).or_default();
    if let Some(kept) = lists.iter().find(|kept| ***kept == *owners) {
        return kept.clone();
    }
    let kept: Owners = owners.into();
    lists.push(kept.clone());
    kept
}

/// The one copy of `items` in `set`.
fn intern<T: Eq + Hash>(set: &mut HashSet<Arc<[T]>>, items: Vec<T>) -> Arc<[T]> {
    if let Some(kept) = set.get(items.as_slice()) {
        return kept.clone();
    }
    let kept: Arc<[T]> = items.into();
    set.insert(kept.clone());
    kept
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn owner(uid: &str, name: &str) -> OwnerReference {
        OwnerReference {
            api_version: "devstack.dev/v1alpha1".into(),
            kind: "DevStack".into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: None,
        }
    }

    #[test]
    fn equal_values_are_one_copy() {
        let mut interner = Interner::default();
        let one: BTreeMap<String, String> = [("app".into(), "api".into())].into();
        let a = interner.labels(one.iter());
        let b = interner.labels(one.clone().iter());
        assert!(Arc::ptr_eq(&a, &b));
        let keys = ["devstack.dev/desired-hash".to_string()];
        assert!(Arc::ptr_eq(
            &interner.keys(keys.iter()),
            &interner.keys(keys.iter())
        ));
        let other: BTreeMap<String, String> = [("app".into(), "web".into())].into();
        assert!(!Arc::ptr_eq(&a, &interner.labels(other.iter())));
    }

    #[test]
    fn owner_lists_are_shared_by_every_store_and_told_apart_by_value() {
        let list = [owner("uid-owners-test", "s")];
        let a = owners(&list);
        let b = owners(&list.clone());
        assert!(Arc::ptr_eq(&a, &b), "one copy for every store");
        let renamed = owners(&[owner("uid-owners-test", "t")]);
        assert!(
            !Arc::ptr_eq(&a, &renamed),
            "same uid, other owner: its own copy"
        );
        assert_eq!(renamed[0].name, "t");
    }

    #[test]
    fn a_sweep_forgets_only_what_no_object_holds() {
        let mut interner = Interner::default();
        let held: BTreeMap<String, String> = [("stack".into(), "kept".into())].into();
        let gone: BTreeMap<String, String> = [("stack".into(), "gone".into())].into();
        let labels = interner.labels(held.iter());
        drop(interner.labels(gone.iter()));
        let held_owner = owners(&[owner("uid-sweep-held", "kept")]);
        drop(owners(&[owner("uid-sweep-gone", "gone")]));
        assert_eq!(interner.len(), 5, "stack, kept, gone and two label sets");
        interner.sweep();
        assert_eq!(interner.len(), 3, "stack, kept and the held set");
        assert_eq!(&*labels[0].1, "kept");
        let table = OWNERS.lock().unwrap();
        assert!(table.contains_key("uid-sweep-held"));
        assert!(!table.contains_key("uid-sweep-gone"));
        drop(held_owner);
    }

    #[test]
    fn deletions_sweep_once_they_match_what_is_left() {
        let mut interner = Interner::default();
        let gone: BTreeMap<String, String> = [("stack".into(), "gone".into())].into();
        drop(interner.labels(gone.iter()));
        for _ in 0..63 {
            interner.deleted(10);
        }
        assert_eq!(interner.len(), 3, "no sweep before 64 deletions");
        interner.deleted(10);
        assert_eq!(interner.len(), 0);
    }
}
