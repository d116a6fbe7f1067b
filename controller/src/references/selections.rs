//! Watching selector references: which owners to trigger when an object starts, stops or goes
//! on matching a selector, or when a namespace starts or stops matching a `namespaceSelector`.
//!
//! Each distinct selector of a kind and place gets one metadata-only watch with the selector
//! given to the apiserver, so the operator holds the names and labels of matching objects
//! only, never every object of a namespace (let alone of the cluster, for a
//! `namespaceSelector`). The apiserver ends a watched object's life in the watch when its
//! labels stop matching, so leaving the selection triggers too. Selected objects are read from
//! the apiserver at each run (`select.rs`), bounded, never from these watches.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
};

use futures::StreamExt;
use gco_api::ExportKind;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DynamicObject, PartialObjectMeta},
    core::{Selector, SelectorExt},
    runtime::{WatchStreamExt, watcher},
};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

use super::{Found, Looked, ReadReference, watches::Owner};
use crate::runtime::InitialList;

type Labels = BTreeMap<String, String>;

/// One selector watch: a kind, where (`""`: cluster-wide), and the selector as the apiserver
/// reads it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct WatchKey {
    group: String,
    kind: String,
    namespace: String,
    labels: String,
}

#[derive(Default)]
struct Index {
    /// Per watch, its owners, each with the namespaces it looks in when the watch is
    /// cluster-wide for a `namespaceSelector` (`None`: every object of the watch counts).
    owners: HashMap<WatchKey, BTreeMap<Owner, Option<BTreeSet<String>>>>,
    keys_of: HashMap<Owner, Vec<WatchKey>>,
    watched: HashSet<WatchKey>,
    /// Owners with a `namespaceSelector`, and their namespace selectors.
    by_namespace: HashMap<Owner, Vec<Selector>>,
    namespaces_watched: bool,
}

impl Index {
    fn forget(&mut self, owner: &Owner) {
        self.by_namespace.remove(owner);
        for key in self.keys_of.remove(owner).unwrap_or_default() {
            if let Some(owners) = self.owners.get_mut(&key) {
                owners.remove(owner);
                if owners.is_empty() {
                    self.owners.remove(&key);
                }
            }
        }
    }
}

/// The selector watches and their owners. Cheap to clone.
#[derive(Clone)]
pub(super) struct Selections {
    client: Client,
    index: Arc<Mutex<Index>>,
    triggers: Arc<HashMap<ExportKind, UnboundedSender<Owner>>>,
    lists: InitialList,
}

impl Selections {
    pub(super) fn new(
        client: Client,
        triggers: Arc<HashMap<ExportKind, UnboundedSender<Owner>>>,
        lists: InitialList,
    ) -> Self {
        Self {
            client,
            index: Arc::default(),
            triggers,
            lists,
        }
    }

    /// Records `owner`'s selector references, starting the watches not running yet.
    pub(super) fn track(&self, owner: &Owner, references: &[ReadReference]) {
        let mut new_watches = Vec::new();
        let mut watch_namespaces = false;
        {
            let mut index = self.lock();
            index.forget(owner);
            let mut keys = Vec::new();
            for reference in references {
                let Found::Selected(selected) = &reference.found else {
                    continue;
                };
                let resource = &reference.kind.resource;
                let (namespace, filter) = match &selected.looked {
                    Looked::Namespace(namespace) => (namespace.clone(), None),
                    Looked::Cluster => (String::new(), None),
                    Looked::Namespaces { selector, matched } => {
                        index
                            .by_namespace
                            .entry(owner.clone())
                            .or_default()
                            .push(selector.clone());
                        watch_namespaces |= !std::mem::replace(&mut index.namespaces_watched, true);
                        (String::new(), Some(matched.clone()))
                    }
                };
                let key = WatchKey {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    namespace,
                    labels: selected.selector.to_string(),
                };
                let owners = index.owners.entry(key.clone()).or_default();
                match (owners.get_mut(owner), filter) {
                    // Two references of one owner on one watch: the union of their namespaces.
                    (Some(Some(known)), Some(more)) => known.extend(more),
                    (Some(known), _) => *known = None,
                    (None, filter) => {
                        owners.insert(owner.clone(), filter);
                    }
                }
                if index.watched.insert(key.clone()) {
                    new_watches.push((key.clone(), resource.clone()));
                }
                keys.push(key);
            }
            // Most owners select nothing: they take no entry.
            if !keys.is_empty() {
                index.keys_of.insert(owner.clone(), keys);
            }
        }
        for (key, resource) in new_watches {
            self.spawn_watch(key, resource);
        }
        if watch_namespaces {
            self.spawn_namespace_watch();
        }
    }

    pub(super) fn forget(&self, owner: &Owner) {
        self.lock().forget(owner);
    }

    /// Watches the objects `key` selects, names and labels only.
    fn spawn_watch(&self, key: WatchKey, resource: ApiResource) {
        debug!(group = %key.group, kind = %key.kind, namespace = %key.namespace, selector = %key.labels, "watching a selector");
        let api: Api<PartialObjectMeta<DynamicObject>> = match key.namespace.is_empty() {
            true => Api::all_with(self.client.clone(), &resource),
            false => Api::namespaced_with(self.client.clone(), &key.namespace, &resource),
        };
        let events = self
            .lists
            .watch(api, watcher::Config::default().labels(&key.labels));
        let (index, triggers) = (self.index.clone(), self.triggers.clone());
        tokio::spawn(async move {
            let mut touched = events.default_backoff().touched_objects().boxed();
            while let Some(object) = touched.next().await {
                let object = match object {
                    Ok(object) => object,
                    Err(error) => {
                        warn!(%error, "watch of a selector failed; retrying");
                        continue;
                    }
                };
                let namespace = object.namespace().unwrap_or_default();
                let owners: Vec<Owner> = {
                    let index = lock(&index);
                    let owners = index.owners.get(&key).into_iter().flatten();
                    owners
                        .filter(|(_, filter)| {
                            filter.as_ref().is_none_or(|ns| ns.contains(&namespace))
                        })
                        .map(|(owner, _)| owner.clone())
                        .collect()
                };
                send(&triggers, owners);
            }
        });
    }

    /// Triggers the owners whose `namespaceSelector` matches a namespace's labels before or
    /// after it was created, relabelled or deleted.
    fn spawn_namespace_watch(&self) {
        let api: Api<PartialObjectMeta<Namespace>> = Api::all(self.client.clone());
        let (index, triggers) = (self.index.clone(), self.triggers.clone());
        let events = self.lists.watch(api, watcher::Config::default());
        tokio::spawn(async move {
            let mut events = events.default_backoff().boxed();
            let mut seen: HashMap<String, Labels> = HashMap::new();
            while let Some(event) = events.next().await {
                let (namespace, labels) = match event {
                    Ok(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns)) => {
                        (ns.name_any(), Some(ns.labels().clone()))
                    }
                    Ok(watcher::Event::Delete(ns)) => (ns.name_any(), None),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
                    Err(error) => {
                        warn!(%error, "watch of namespaces failed; retrying");
                        continue;
                    }
                };
                let before = match &labels {
                    Some(labels) => seen.insert(namespace, labels.clone()),
                    None => seen.remove(&namespace),
                };
                if before == labels {
                    continue;
                }
                let matches = |selector: &Selector| {
                    before.as_ref().is_some_and(|l| selector.matches(l))
                        || labels.as_ref().is_some_and(|l| selector.matches(l))
                };
                let owners: Vec<Owner> = {
                    let index = lock(&index);
                    index
                        .by_namespace
                        .iter()
                        .filter(|(_, selectors)| selectors.iter().any(matches))
                        .map(|(owner, _)| owner.clone())
                        .collect()
                };
                send(&triggers, owners);
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        lock(&self.index)
    }
}

fn lock(index: &Mutex<Index>) -> MutexGuard<'_, Index> {
    // A panic while holding this lock cannot leave the index inconsistent: keep using it.
    index
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn send(triggers: &HashMap<ExportKind, UnboundedSender<Owner>>, owners: Vec<Owner>) {
    for owner in owners {
        if let Some(trigger) = triggers.get(&owner.kind) {
            let _ = trigger.send(owner);
        }
    }
}
