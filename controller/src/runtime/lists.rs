//! How the controller's watches start. A streaming list (`sendInitialEvents`) sends the objects
//! already there one at a time instead of in one list holding all of them, which lowers the peak
//! memory of a start with many objects (docs/performance.md: 130.4 → 122.8 MiB with 10,000
//! GitCommits). An apiserver serves it only where its `WatchList` feature gate is on (the
//! default in Kubernetes 1.32 and from 1.34; off in 1.33 and before 1.32) and refuses it
//! otherwise, so the controller asks once, at start, and lists where it is refused: a watch that
//! asked for streaming from such a server would fail and retry forever.

use kube::{Api, api::WatchParams, runtime::watcher};
use serde::de::DeserializeOwned;
use std::{fmt::Debug, time::Duration};
use tracing::{info, warn};

/// How every watch of the controller starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialList {
    /// A watch that streams the objects already there, then a bookmark.
    Streaming,
    /// A list (paged by the apiserver), then a watch from its resourceVersion.
    Listed,
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
        let refusal = match answer {
            Ok(Ok(_stream)) => {
                info!("the apiserver serves streaming lists: watches start with one");
                return Self::Streaming;
            }
            Ok(Err(kube::Error::Api(status))) if matches!(status.code, 400 | 422) => {
                info!(
                    reason = %status.message,
                    "the apiserver does not serve streaming lists (its WatchList feature gate is off): watches start with a list"
                );
                return Self::Listed;
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer within 10 s".to_owned(),
        };
        warn!(error = %refusal, "could not tell whether the apiserver serves streaming lists: watches start with a list");
        Self::Listed
    }

    /// A watcher configuration starting this way.
    pub fn config(self) -> watcher::Config {
        let config = watcher::Config::default();
        match self {
            Self::Streaming => config.streaming_lists(),
            Self::Listed => config,
        }
    }
}
