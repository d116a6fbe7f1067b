//! How the controller's watches start. A streaming list (`sendInitialEvents`) sends the objects
//! already there one at a time instead of in one list holding all of them, which lowers the peak
//! memory of a start with many objects (docs/performance.md). An apiserver serves it only where
//! its `WatchList` feature gate is on (the default in Kubernetes 1.32 and from 1.34; off in 1.33
//! and before 1.32) and refuses it otherwise. A watch asking for one there would fail and retry
//! forever, so the controller asks once at start, and every watch that is refused one all the
//! same (a kind served by an aggregated apiserver, an apiserver downgraded or replaced by an
//! older one while the controller runs) falls back to a list, and makes every later watch start
//! with one too.

use std::{
    fmt::Debug,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::{StreamExt, stream::BoxStream};
use kube::{Api, Resource, api::WatchParams, runtime::watcher};
use serde::de::DeserializeOwned;
use tracing::{info, warn};

/// How the controller's watches start: with a streaming list until an apiserver refuses one,
/// with a list from then on. Cheap to clone; clones share the answer.
#[derive(Clone, Debug)]
pub struct InitialList {
    streaming: Arc<AtomicBool>,
}

impl InitialList {
    /// Asks the apiserver for a streaming watch of `api`'s objects (one that matches nothing)
    /// and keeps the answer. `api` must be something the controller may watch anyway.
    pub async fn detect<K>(api: &Api<K>) -> Self
    where
        K: Clone + DeserializeOwned + Debug,
    {
        let probe = WatchParams {
            // No object is named like this: the answer carries only the closing bookmark.
            field_selector: Some("metadata.name=gco..probe".to_owned()),
            timeout: Some(1),
            bookmarks: true,
            send_initial_events: true,
            ..WatchParams::default()
        };
        let answer = tokio::time::timeout(Duration::from_secs(10), api.watch(&probe, "0")).await;
        let error = match answer {
            Ok(Ok(_stream)) => {
                info!("the apiserver serves streaming lists: watches start with one");
                return Self::with(true);
            }
            Ok(Err(kube::Error::Api(status))) if refuses_streaming(status.code) => {
                info!(
                    reason = %status.message,
                    "the apiserver does not serve streaming lists (its WatchList feature gate is off): watches start with a list"
                );
                return Self::with(false);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer within 10 s".to_owned(),
        };
        warn!(%error, "could not tell whether the apiserver serves streaming lists: watches start with a list");
        Self::with(false)
    }

    /// Streaming lists without asking (the test hook `--assume-streaming-lists`).
    pub fn streaming() -> Self {
        Self::with(true)
    }

    fn with(streaming: bool) -> Self {
        Self {
            streaming: Arc::new(AtomicBool::new(streaming)),
        }
    }

    /// The watch of `api` with `config` (selectors and the like), starting with a streaming
    /// list while the apiserver serves them. A refusal of one restarts this watch with a list,
    /// and every later watch starts with one.
    pub fn watch<K>(
        &self,
        api: Api<K>,
        config: watcher::Config,
    ) -> BoxStream<'static, watcher::Result<watcher::Event<K>>>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        if !self.streaming.load(Ordering::Relaxed) {
            return watcher::watcher(api, config).boxed();
        }
        let streaming = watcher::watcher(api.clone(), config.clone().streaming_lists()).boxed();
        let lists = self.clone();
        futures::stream::unfold(
            (streaming, Some((api, config, lists))),
            |(mut events, fallback)| async move {
                let event = events.next().await?;
                let refusal = match &event {
                    Err(watcher::Error::WatchStartFailed(kube::Error::Api(status)))
                        if refuses_streaming(status.code) =>
                    {
                        Some(status.message.clone())
                    }
                    _ => None,
                };
                match (refusal, fallback) {
                    (Some(reason), Some((api, config, lists))) => {
                        if lists.streaming.swap(false, Ordering::Relaxed) {
                            warn!(%reason, "the apiserver refused a streaming list: watches start with a list from now on");
                        }
                        Some((None, (watcher::watcher(api, config).boxed(), None)))
                    }
                    (_, fallback) => Some((Some(event), (events, fallback))),
                }
            },
        )
        .filter_map(std::future::ready)
        .boxed()
    }
}

/// Whether an apiserver's answer `code` to a watch asking for a streaming list refuses the
/// streaming list itself: 422 where the `WatchList` gate is off, 400 from older apiservers
/// that do not know the parameter's rules.
fn refuses_streaming(code: u16) -> bool {
    matches!(code, 400 | 422)
}
