//! [`PushLane`]: one per (repository, branch). Work on a branch is serialised, and changes
//! that arrive while a push is in flight wait and go out together in the next one, so a
//! thousand objects on one branch make a handful of pushes instead of a thousand races.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::oneshot;

use super::{
    Credentials, GitError, RepoCache, blocking,
    change::{Change, Outcome},
    session,
    url::RepoUrl,
};

/// Most changes in one batch: keeps a commit message readable and one failure's blast
/// radius small, and still gives far fewer than one push per ten objects.
pub const MAX_BATCH: usize = 100;

type Reply = oneshot::Sender<Result<Outcome, GitError>>;

/// The queue of one (repository, branch).
pub(crate) struct PushLane {
    url: RepoUrl,
    branch: String,
    cache: Arc<RepoCache>,
    state: Mutex<LaneState>,
}

#[derive(Default)]
struct LaneState {
    queue: VecDeque<(Credentials, Change, Reply)>,
    /// Whether a driver task is draining the queue.
    running: bool,
}

impl PushLane {
    pub(crate) fn new(url: RepoUrl, branch: String, cache: Arc<RepoCache>) -> Self {
        PushLane {
            url,
            branch,
            cache,
            state: Mutex::new(LaneState::default()),
        }
    }

    /// Queues `change`; resolves when the batch it joined has been pushed (or has failed).
    pub(crate) async fn submit(
        self: &Arc<Self>,
        credentials: Credentials,
        change: Change,
    ) -> Result<Outcome, GitError> {
        let (reply, receive) = oneshot::channel();
        let start_driver = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.queue.push_back((credentials, change, reply));
            !std::mem::replace(&mut state.running, true)
        };
        if start_driver {
            tokio::spawn(Arc::clone(self).drive());
        }
        receive.await.unwrap_or(Err(GitError::Cancelled))
    }

    /// Drains the queue one batch at a time until it is empty.
    async fn drive(self: Arc<Self>) {
        while let Some((credentials, changes, replies)) = self.next_batch() {
            let lane = Arc::clone(&self);
            let result = blocking(move || {
                session::commit_batch(&lane.cache, &lane.url, &credentials, &lane.branch, &changes)
            })
            .await;
            match result {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        }
    }

    /// The oldest change and every queued change with the same credentials (a change never
    /// rides on another Secret's credentials), up to [`MAX_BATCH`]. `None` when the queue is
    /// empty, which also ends the driver.
    fn next_batch(&self) -> Option<(Credentials, Vec<Change>, Vec<Reply>)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((credentials, change, reply)) = state.queue.pop_front() else {
            state.running = false;
            return None;
        };
        let (mut changes, mut replies) = (vec![change], vec![reply]);
        let mut rest = VecDeque::new();
        while let Some(item) = state.queue.pop_front() {
            if changes.len() < MAX_BATCH && item.0 == credentials {
                changes.push(item.1);
                replies.push(item.2);
            } else {
                rest.push_back(item);
            }
        }
        state.queue = rest;
        Some((credentials, changes, replies))
    }
}
