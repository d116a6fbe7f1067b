//! The git engine: one cached bare repository per URL, commits built in memory, pushes that
//! never force, retries on lost races, and a push lane per branch that serialises and
//! coalesces the work of many objects.
//!
//! libgit2 blocks, so every operation runs on tokio's blocking pool.

mod batch;
mod bound;
mod cache;
mod change;
mod credentials;
mod diff;
mod error;
mod history;
mod known_hosts;
mod lane;
mod recover;
pub mod redact;
mod remote;
mod session;
mod signing;
mod staging;
mod tls;
mod trailers;
mod tree;
mod url;

use std::{path::PathBuf, sync::Arc};

use jiff::Timestamp;
use tokio::sync::oneshot;

pub use bound::{DEFAULT_CACHE_MAX_BYTES, MAX_PACKS};
pub use cache::RepoCache;
pub use change::{
    Author, Change, DEFAULT_AUTHOR, OBJECT_TRAILER, ObjectRef, Outcome, RUN_TRAILER, RunId,
};
pub use credentials::Credentials;
pub use diff::diff_against_branch;
pub use error::GitError;
pub use history::{RUN_CLOCK_SKEW, RUN_WALK_LIMIT};
use lane::PushLanes;
pub use lane::{Answer, LaneMetrics, MAX_BATCH};
pub use recover::{Claims, RECOVERY_WALK};
pub use session::MAX_PUSH_ATTEMPTS;
pub use signing::{SigningKey, SigningKeyProblem};
pub use trailers::object_runs;
pub use url::RepoUrl;

/// What [`GitEngine::in_use`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InUse {
    /// Branches with work queued or a push in flight (an idle branch's lane is dropped).
    pub lanes: usize,
    /// Cached repositories open (held or waited for).
    pub repositories: usize,
    /// Branch locks held or waited for.
    pub branch_locks: usize,
}

/// The engine: a cache and the push lanes of every branch in use. Cheap to clone: clones
/// share both.
#[derive(Clone)]
pub struct GitEngine {
    cache: Arc<RepoCache>,
    lanes: Arc<PushLanes>,
}

impl GitEngine {
    /// An engine whose cached repositories live under `cache_dir`, at most
    /// [`DEFAULT_CACHE_MAX_BYTES`] of them.
    pub fn new(cache_dir: PathBuf) -> Self {
        Self::with_cache_bound(cache_dir, DEFAULT_CACHE_MAX_BYTES, LaneMetrics::default())
    }

    /// An engine whose cached repositories live under `cache_dir`: after each batch, the
    /// least recently used ones no one is using are deleted until at most `max_bytes` remain.
    /// The push lanes report into `metrics`.
    pub fn with_cache_bound(cache_dir: PathBuf, max_bytes: u64, metrics: LaneMetrics) -> Self {
        // libgit2 keeps every parsed tree and commit of an open repository in memory (up to
        // 256 MiB), and a push parses every tree of each remote tip it knows: with several
        // branches in one repository, megabytes per push for objects read once. What a batch
        // reads again (the small folders on its paths) costs less than that memory
        // (docs/performance.md).
        git2::opts::enable_caching(false);
        let cache = Arc::new(RepoCache::new(cache_dir, max_bytes));
        GitEngine {
            lanes: Arc::new(PushLanes::new(Arc::clone(&cache), metrics)),
            cache,
        }
    }

    /// What the engine holds in memory for work under way, all back to zero once it is idle.
    pub fn in_use(&self) -> InUse {
        InUse {
            lanes: self.lanes.active(),
            repositories: self.cache.in_use(),
            branch_locks: self.cache.branches_in_use(),
        }
    }

    /// Commits `change` to `branch` of `url` and pushes it, without force, coalesced with
    /// whatever else is queued for that branch. Returns once the push is done.
    pub async fn commit(
        &self,
        url: &str,
        branch: &str,
        credentials: &Credentials,
        change: Change,
    ) -> Result<Outcome, GitError> {
        let (tell, hear) = oneshot::channel();
        let answer = Answer::new(move |outcome| {
            let _ = tell.send(outcome);
        });
        self.submit(url, branch, credentials.clone(), change, answer);
        hear.await.unwrap_or(Err(GitError::Cancelled))
    }

    /// As [`GitEngine::commit`], without waiting: `answer` hears the outcome, from the push
    /// lane's task (or at once, when `url` or `branch` is refused). Call within the runtime.
    pub fn submit(
        &self,
        url: &str,
        branch: &str,
        credentials: Credentials,
        change: Change,
        answer: Answer,
    ) {
        let url = match RepoUrl::parse(url) {
            Ok(url) => url,
            Err(error) => return answer.send(Err(error)),
        };
        if let Err(error) = session::check_branch(branch) {
            return answer.send(Err(error));
        }
        self.lanes.queue(&url, branch, credentials, change, answer);
    }

    /// Commits `change` to a pull request's `head` branch, created from `base` if absent,
    /// and updated only while the remote head is still `expected_head` (the commit the
    /// operator last pushed): otherwise [`GitError::HeadBranchDiverged`].
    pub async fn commit_head_branch(
        &self,
        url: &str,
        base: &str,
        head: &str,
        expected_head: Option<&str>,
        credentials: &Credentials,
        change: Change,
    ) -> Result<Outcome, GitError> {
        let url = RepoUrl::parse(url)?;
        let (cache, credentials) = (Arc::clone(&self.cache), credentials.clone());
        let (base, head) = (base.to_owned(), head.to_owned());
        let expected = expected_head.map(str::to_owned);
        blocking(move || {
            session::commit_head_branch(
                &cache,
                &url,
                &credentials,
                &base,
                &head,
                expected.as_deref(),
                &change,
            )
        })
        .await
    }

    /// The commit on `branch` made for `object`'s run `run`, if there is one: how a run
    /// retried after a crash finds what it pushed. `at` is the run's instant: the commits
    /// down to it (less [`RUN_CLOCK_SKEW`], up to [`RUN_WALK_LIMIT`]) are read, however many
    /// there are. Only a commit's trailer block counts, and only a `Gco-Object`/`Gco-Run`
    /// pair naming both.
    pub async fn find_object_run(
        &self,
        url: &str,
        branch: &str,
        credentials: &Credentials,
        object: &ObjectRef,
        run: &RunId,
        at: Timestamp,
    ) -> Result<Option<String>, GitError> {
        let url = RepoUrl::parse(url)?;
        let (cache, credentials) = (Arc::clone(&self.cache), credentials.clone());
        let branch = branch.to_owned();
        let wanted = history::Wanted::new(object, run, at);
        blocking(move || session::find_run_on_branch(&cache, &url, &credentials, &branch, wanted))
            .await
    }
}

/// Runs `work` on tokio's blocking pool; a task that never finished (the runtime shutting
/// down, or a panic inside libgit2) reads as [`GitError::Cancelled`].
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, GitError> + Send + 'static,
) -> Result<T, GitError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or(Err(GitError::Cancelled))
}
