//! Watching exactly the kinds that specs reference, and mapping a changed object back to the
//! GitCommits and PullRequests that reference it.
//!
//! The set of kinds is only known at run time (any kind may be referenced), so watches start as
//! reconciles discover new kinds, one per kind and namespace that specs reference: nothing of a
//! namespace no spec references is held. A watch keeps its objects in a cache that reconciles read
//! instead of asking the apiserver again: every trigger would otherwise cost one GET per
//! reference. Secrets are the exception: they are polled with metadata-only reads (the
//! controller may only `get` them), so no Secret value is ever held in memory, and reconciles
//! read them when they need them.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, StreamExt};
use kube::{
    Api, Client, ResourceExt,
    api::{ApiResource, DynamicObject},
    runtime::{
        WatchStreamExt,
        reflector::{ObjectRef, Store, store::Writer},
        watcher,
    },
};
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use gco_api::{ExportKind, kind::is_core_secret};

use super::{Found, ObjectKey, ReadObject, ReadReference, ResolvedKind, selections::Selections};
use crate::runtime::InitialList;

/// An exporting object: a GitCommit or PullRequest, by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub kind: ExportKind,
    pub namespace: String,
    pub name: String,
}

/// What one watch covers: a kind in one namespace (`""` for a cluster-scoped kind). Watching
/// only the namespaces that specs reference keeps the operator's memory, and what it holds,
/// to what is referenced rather than to the whole cluster.
type Scope = (String, String, String);

fn scope_of(key: &ObjectKey) -> Scope {
    (key.group.clone(), key.kind.clone(), key.namespace.clone())
}

/// The owners of one referenced object. Most objects have one owner, held as it is: a
/// `BTreeSet` of one takes a whole node with room for eleven, which was 5 MiB of the controller's
/// heap with 10,000 referenced objects. An object shared by many owners keeps them in a set, so
/// that adding and removing one stays cheap however many there are.
#[derive(Default)]
enum Owners {
    #[default]
    None,
    One(Owner),
    Many(BTreeSet<Owner>),
}

impl Owners {
    fn insert(&mut self, owner: &Owner) {
        match self {
            Owners::None => *self = Owners::One(owner.clone()),
            Owners::One(one) if one == owner => {}
            Owners::One(one) => *self = Owners::Many(BTreeSet::from([one.clone(), owner.clone()])),
            Owners::Many(many) => {
                many.insert(owner.clone());
            }
        }
    }

    fn remove(&mut self, owner: &Owner) {
        match self {
            Owners::One(one) if one == owner => *self = Owners::None,
            Owners::Many(many) => {
                many.remove(owner);
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Owners::None => true,
            Owners::One(_) => false,
            Owners::Many(many) => many.is_empty(),
        }
    }

    fn to_vec(&self) -> Vec<Owner> {
        match self {
            Owners::None => Vec::new(),
            Owners::One(one) => vec![one.clone()],
            Owners::Many(many) => many.iter().cloned().collect(),
        }
    }
}

#[derive(Default)]
struct Index {
    owners_of: HashMap<ObjectKey, Owners>,
    keys_of: HashMap<Owner, Vec<ObjectKey>>,
    /// The scopes with a running watch.
    watched: HashSet<Scope>,
    /// The caches of the watched scopes (all but Secrets).
    caches: HashMap<Scope, Store<DynamicObject>>,
    /// The resourceVersion of each referenced Secret as last read, for the Secret pollers.
    secret_versions: HashMap<ObjectKey, Option<String>>,
}

/// The reference index and its watches. Cheap to clone.
#[derive(Clone)]
pub(super) struct ReferenceWatches {
    client: Client,
    /// Objects referenced by at least one owner, exported as a metric.
    referenced: Gauge,
    index: Arc<Mutex<Index>>,
    triggers: Arc<HashMap<ExportKind, mpsc::UnboundedSender<Owner>>>,
    /// How often referenced Secrets are looked at.
    secret_poll: Duration,
    /// The watches of selector references.
    selections: Selections,
    lists: InitialList,
}

impl ReferenceWatches {
    /// Returns the watches and, per owner kind, the stream of owners to reconcile.
    pub(super) fn new(
        client: Client,
        referenced: Gauge,
        secret_poll: Duration,
        lists: InitialList,
    ) -> (Self, HashMap<ExportKind, mpsc::UnboundedReceiver<Owner>>) {
        let mut senders = HashMap::new();
        let mut receivers = HashMap::new();
        for kind in [ExportKind::GitCommit, ExportKind::PullRequest] {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.insert(kind, tx);
            receivers.insert(kind, rx);
        }
        let triggers = Arc::new(senders);
        let watches = Self {
            selections: Selections::new(client.clone(), triggers.clone(), lists.clone()),
            client,
            referenced,
            index: Arc::default(),
            triggers,
            secret_poll,
            lists,
        };
        (watches, receivers)
    }

    /// Records what `owner` references now, and starts watching the kinds and namespaces not
    /// watched yet. A selector reference is watched by its selector (`selections.rs`).
    pub(super) fn track(&self, owner: &Owner, references: &[ReadReference]) {
        let mut new_scopes = Vec::new();
        {
            let mut index = self.lock();
            index.forget(owner);
            let mut keys = Vec::with_capacity(references.len());
            for reference in references {
                let Found::Named(ReadObject {
                    key,
                    resource_version,
                    ..
                }) = &reference.found
                else {
                    continue;
                };
                if is_core_secret(&key.group, &key.kind) {
                    index
                        .secret_versions
                        .insert(key.clone(), resource_version.clone());
                }
                index
                    .owners_of
                    .entry(key.clone())
                    .or_default()
                    .insert(owner);
                if index.watched.insert(scope_of(key)) {
                    new_scopes.push((reference.kind.clone(), key.namespace.clone()));
                }
                keys.push(key.clone());
            }
            keys.shrink_to_fit();
            index.keys_of.insert(owner.clone(), keys);
            self.referenced.set(index.owners_of.len() as i64);
        }
        for (kind, namespace) in new_scopes {
            self.spawn_watch(kind, namespace);
        }
        self.selections.track(owner, references);
    }

    /// Forgets a deleted owner.
    pub(super) fn forget(&self, owner: &Owner) {
        let mut index = self.lock();
        index.forget(owner);
        self.referenced.set(index.owners_of.len() as i64);
        self.selections.forget(owner);
    }

    /// The cached object for `key`: `Some(None)` when the cache is complete and the object does
    /// not exist, `None` when there is no complete cache of its scope (read it from the API).
    pub(super) fn cached(
        &self,
        key: &ObjectKey,
        resource: &ApiResource,
    ) -> Option<Option<Arc<DynamicObject>>> {
        let cache = self.lock().caches.get(&scope_of(key))?.clone();
        cache.wait_until_ready().now_or_never()?.ok()?;
        let mut reference = ObjectRef::new_with(&key.name, resource.clone());
        if !key.namespace.is_empty() {
            reference = reference.within(&key.namespace);
        }
        Some(cache.get(&reference))
    }

    /// Watches `kind` in `namespace` (`""`: a cluster-scoped kind, watched cluster-wide).
    fn spawn_watch(&self, kind: ResolvedKind, namespace: String) {
        let resource = kind.resource.clone();
        let (group, kind_name) = (resource.group.clone(), resource.kind.clone());
        debug!(%group, kind = %kind_name, %namespace, "watching referenced kind");
        let scope = (group.clone(), kind_name.clone(), namespace.clone());
        let key_of = move |namespace: Option<String>, name: String| ObjectKey {
            group: group.clone(),
            kind: kind_name.clone(),
            namespace: namespace.unwrap_or_default(),
            name,
        };
        let changed: futures::stream::BoxStream<'static, ObjectKey> =
            if is_core_secret(&resource.group, &resource.kind) {
                poll_secrets(
                    self.api(&resource, &namespace),
                    self.index.clone(),
                    scope,
                    self.secret_poll,
                )
            } else {
                let api: Api<DynamicObject> = self.api(&resource, &namespace);
                let writer = Writer::new(resource.clone());
                self.lock().caches.insert(scope, writer.as_reader());
                // The cache is written before the trigger is sent: a reconcile it starts reads the
                // version that triggered it, or a newer one. managedFields are dropped: no
                // rendering uses them, and they are most of a small object's size.
                self.lists
                    .watch(api, watcher::Config::default())
                    .default_backoff()
                    .modify(|object| object.managed_fields_mut().clear())
                    .reflect(writer)
                    .touched_objects()
                    .filter_map(move |o| {
                        std::future::ready(keep(o.map(|o| key_of(o.namespace(), o.name_any()))))
                    })
                    .boxed()
            };
        let index = self.index.clone();
        let triggers = self.triggers.clone();
        tokio::spawn(async move {
            let mut changed = changed;
            while let Some(key) = changed.next().await {
                let owners: Vec<Owner> = {
                    let index = index.lock().unwrap_or_else(|p| p.into_inner());
                    index
                        .owners_of
                        .get(&key)
                        .map(Owners::to_vec)
                        .unwrap_or_default()
                };
                for owner in owners {
                    if let Some(trigger) = triggers.get(&owner.kind) {
                        let _ = trigger.send(owner);
                    }
                }
            }
        });
    }

    fn api<K>(&self, resource: &ApiResource, namespace: &str) -> Api<K>
    where
        K: kube::Resource<DynamicType = ApiResource, Scope = kube::core::DynamicResourceScope>,
    {
        if namespace.is_empty() {
            Api::all_with(self.client.clone(), resource)
        } else {
            Api::namespaced_with(self.client.clone(), namespace, resource)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The referenced Secrets of `scope` whose resourceVersion moved since they were last read,
/// looked at every `every` with metadata-only reads: no Secret value is transferred or held.
/// Secrets are polled, not watched: a list or watch of Secrets returns their data, and the
/// controller may only `get` them (config/rbac), which a metadata-only read needs.
fn poll_secrets(
    api: Api<DynamicObject>,
    index: Arc<Mutex<Index>>,
    scope: Scope,
    every: Duration,
) -> futures::stream::BoxStream<'static, ObjectKey> {
    futures::stream::unfold((api, index, scope), move |(api, index, scope)| async move {
        tokio::time::sleep(every).await;
        let referenced: Vec<(ObjectKey, Option<String>)> = {
            let index = index.lock().unwrap_or_else(|p| p.into_inner());
            index
                .secret_versions
                .iter()
                .filter(|(key, _)| scope_of(key) == scope && index.owners_of.contains_key(*key))
                .map(|(key, version)| (key.clone(), version.clone()))
                .collect()
        };
        let mut changed = Vec::new();
        for (key, seen) in referenced {
            let now = match api.get_metadata_opt(&key.name).await {
                Ok(found) => found.and_then(|meta| meta.metadata.resource_version),
                Err(error) => {
                    warn!(%error, secret = %key.display(), "cannot look at a referenced Secret; trying again later");
                    continue;
                }
            };
            if now != seen {
                let mut index = index.lock().unwrap_or_else(|p| p.into_inner());
                index.secret_versions.insert(key.clone(), now);
                changed.push(key);
            }
        }
        Some((futures::stream::iter(changed), (api, index, scope)))
    })
    .flatten()
    .boxed()
}

/// Watch errors are retried by the backoff; log them and carry on.
fn keep(item: Result<ObjectKey, watcher::Error>) -> Option<ObjectKey> {
    match item {
        Ok(key) => Some(key),
        Err(error) => {
            warn!(%error, "watch of a referenced kind failed; retrying");
            None
        }
    }
}

impl Index {
    fn forget(&mut self, owner: &Owner) {
        for key in self.keys_of.remove(owner).unwrap_or_default() {
            if let Some(owners) = self.owners_of.get_mut(&key) {
                owners.remove(owner);
                if owners.is_empty() {
                    self.owners_of.remove(&key);
                    self.secret_versions.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(name: &str) -> Owner {
        Owner {
            kind: ExportKind::GitCommit,
            namespace: "team".into(),
            name: name.into(),
        }
    }

    #[test]
    fn owners_are_kept_without_repeats_one_alone_and_many_in_a_set() {
        let mut owners = Owners::default();
        owners.insert(&owner("b"));
        owners.insert(&owner("b"));
        assert!(matches!(&owners, Owners::One(one) if *one == owner("b")));
        owners.insert(&owner("a"));
        owners.insert(&owner("c"));
        assert_eq!(owners.to_vec(), [owner("a"), owner("b"), owner("c")]);
        owners.remove(&owner("b"));
        owners.remove(&owner("z"));
        assert_eq!(owners.to_vec(), [owner("a"), owner("c")]);
        owners.remove(&owner("a"));
        owners.remove(&owner("c"));
        assert!(owners.is_empty());
        let mut one = Owners::default();
        one.insert(&owner("a"));
        one.remove(&owner("z"));
        assert!(!one.is_empty());
        one.remove(&owner("a"));
        assert!(one.is_empty() && one.to_vec().is_empty());
    }
}
