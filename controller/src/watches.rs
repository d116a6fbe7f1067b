//! Watching exactly the kinds that specs reference, and mapping a changed object back to the
//! GitCommits and PullRequests that reference it.
//!
//! The set of kinds is only known at run time (any kind may be referenced), so watches start as
//! reconciles discover new kinds. They are metadata-only: a changed resourceVersion is all a
//! trigger needs, and it keeps memory flat with thousands of watched objects.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::{DynamicObject, PartialObjectMeta},
    runtime::{WatchStreamExt, watcher},
};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::references::{ObjectKey, ResolvedKind};

/// An exporting object: a GitCommit or PullRequest, by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub kind: OwnerKind,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnerKind {
    GitCommit,
    PullRequest,
}

#[derive(Default)]
struct Index {
    owners_of: HashMap<ObjectKey, BTreeSet<Owner>>,
    keys_of: HashMap<Owner, Vec<ObjectKey>>,
    /// `(group, kind)` pairs with a running watch.
    watched: HashSet<(String, String)>,
}

/// The reference index and its watches. Cheap to clone.
#[derive(Clone)]
pub struct ReferenceWatches {
    client: Client,
    index: Arc<Mutex<Index>>,
    triggers: Arc<HashMap<OwnerKind, mpsc::UnboundedSender<Owner>>>,
}

impl ReferenceWatches {
    /// Returns the watches and, per owner kind, the stream of owners to reconcile.
    pub fn new(client: Client) -> (Self, HashMap<OwnerKind, mpsc::UnboundedReceiver<Owner>>) {
        let mut senders = HashMap::new();
        let mut receivers = HashMap::new();
        for kind in [OwnerKind::GitCommit, OwnerKind::PullRequest] {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.insert(kind, tx);
            receivers.insert(kind, rx);
        }
        let watches = Self {
            client,
            index: Arc::default(),
            triggers: Arc::new(senders),
        };
        (watches, receivers)
    }

    /// Records what `owner` references now, and starts watching kinds not watched yet.
    pub fn track(&self, owner: &Owner, references: &[(ObjectKey, ResolvedKind)]) {
        let mut new_kinds = Vec::new();
        {
            let mut index = self.lock();
            index.forget(owner);
            for (key, kind) in references {
                index
                    .owners_of
                    .entry(key.clone())
                    .or_default()
                    .insert(owner.clone());
                if index.watched.insert((key.group.clone(), key.kind.clone())) {
                    new_kinds.push(kind.clone());
                }
            }
            index.keys_of.insert(
                owner.clone(),
                references.iter().map(|(k, _)| k.clone()).collect(),
            );
        }
        for kind in new_kinds {
            self.spawn_watch(kind);
        }
    }

    /// Forgets a deleted owner.
    pub fn forget(&self, owner: &Owner) {
        self.lock().forget(owner);
    }

    /// Number of objects referenced by at least one owner (for metrics and tests).
    pub fn referenced_objects(&self) -> usize {
        self.lock().owners_of.len()
    }

    fn spawn_watch(&self, kind: ResolvedKind) {
        // `PartialObjectMeta` makes the watch metadata-only.
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), &kind.resource);
        let (group, kind_name) = (kind.resource.group.clone(), kind.resource.kind.clone());
        let index = self.index.clone();
        let triggers = self.triggers.clone();
        debug!(%group, kind = %kind_name, "watching referenced kind");
        tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let object = match event {
                    Ok(
                        watcher::Event::Apply(o)
                        | watcher::Event::Delete(o)
                        | watcher::Event::InitApply(o),
                    ) => o,
                    Ok(_) => continue,
                    Err(error) => {
                        warn!(%group, kind = %kind_name, %error, "watch of a referenced kind failed; retrying");
                        continue;
                    }
                };
                let key = ObjectKey {
                    group: group.clone(),
                    kind: kind_name.clone(),
                    namespace: object.namespace().unwrap_or_default(),
                    name: object.name_any(),
                };
                let owners: Vec<Owner> = {
                    let index = index.lock().unwrap_or_else(|p| p.into_inner());
                    index
                        .owners_of
                        .get(&key)
                        .map(|o| o.iter().cloned().collect())
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Index {
    fn forget(&mut self, owner: &Owner) {
        for key in self.keys_of.remove(owner).unwrap_or_default() {
            if let Some(owners) = self.owners_of.get_mut(&key) {
                owners.remove(owner);
                if owners.is_empty() {
                    self.owners_of.remove(&key);
                }
            }
        }
    }
}
