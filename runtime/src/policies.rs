//! The GitExportPolicies of the cluster as both binaries read them: watched as raw objects and
//! decoded one by one into a [`PolicySet`], so one policy the Rust types cannot read refuses the
//! namespaces it may govern instead of emptying the list (fail closed).

use std::{
    collections::HashSet,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use gco_api::{
    GitExportPolicy,
    rules::{BrokenPolicy, PolicySet},
};
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject},
    runtime::{WatchStreamExt, reflector::store::Writer, watcher},
};
use tracing::warn;

/// The current policies; cheap to share.
#[derive(Default)]
pub struct PolicyWatch {
    set: RwLock<Arc<PolicySet>>,
    ready: AtomicBool,
}

/// What a watch tells its owner after each change.
pub trait PolicyListener: Send + 'static {
    /// The policies changed (every object may need a new verdict).
    fn changed(&mut self, set: &PolicySet);
    /// A policy that cannot be read, once per version of it.
    fn broken(&mut self, policy: &BrokenPolicy);
}

impl PolicyWatch {
    /// Starts watching on the current tokio runtime.
    pub fn start(client: &Client, mut listener: impl PolicyListener) -> Arc<Self> {
        let watch = Arc::new(Self::default());
        let resource = ApiResource::erase::<GitExportPolicy>(&());
        let writer = Writer::<DynamicObject>::new(resource.clone());
        let store = writer.as_reader();
        let stream = watcher(
            Api::<DynamicObject>::all_with(client.clone(), &resource),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect(writer);
        let shared = watch.clone();
        tokio::spawn(async move {
            let mut reported = HashSet::new();
            // Nothing is judged before the first complete list.
            let mut listed = false;
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::InitDone) => listed = true,
                    Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => {}
                    Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                    Err(error) => {
                        warn!(%error, "GitExportPolicy watch failed; retrying");
                        continue;
                    }
                }
                if !listed {
                    continue;
                }
                let objects: Vec<_> = store
                    .state()
                    .iter()
                    .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
                    .collect();
                let set = PolicySet::decode(&objects);
                for broken in &set.broken {
                    let version = objects
                        .iter()
                        .find(|o| {
                            o.pointer("/metadata/name").and_then(|n| n.as_str())
                                == Some(broken.name.as_str())
                        })
                        .and_then(|o| o.pointer("/metadata/resourceVersion"))
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    if reported.insert((broken.name.clone(), version)) {
                        warn!(policy = %broken.name, error = %broken.error, "GitExportPolicy cannot be read; refusing exports in the namespaces it may govern");
                        listener.broken(broken);
                    }
                }
                listener.changed(&set);
                if let Ok(mut current) = shared.set.write() {
                    *current = Arc::new(set);
                }
                shared.ready.store(true, Ordering::Release);
            }
        });
        watch
    }

    /// The policies as of the last change; empty and not ready before the first list.
    pub fn current(&self) -> Option<Arc<PolicySet>> {
        if !self.is_ready() {
            return None;
        }
        self.set.read().ok().map(|set| set.clone())
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Waits until the first list has been decoded.
    pub async fn wait_until_ready(&self) {
        while !self.is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
