//! The local cache: one bare repository per repository URL, reused across runs, so a run
//! fetches only what changed instead of cloning; kept within a bound on disk by deleting the
//! least recently used repositories no one is using (`bound.rs`).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use git2::Repository;
use openssl::sha::sha256;

use super::{
    GitError,
    bound::{self, Usage},
    url::RepoUrl,
};

/// Bare repositories under one directory, and their locks. Work on different branches of one
/// repository runs in parallel: a batch holds its branch's lock from fetch to push (only its
/// own refs change), and every fetch also takes the repository's fetch lock for as long as
/// it writes the files branches share (the shallow file, packs being indexed).
#[derive(Debug)]
pub struct RepoCache {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    /// Signalled when a repository with too many packs has been deleted.
    deleted: Condvar,
}

/// How long a batch waits for the users of a repository with too many packs to let it go
/// before it uses the repository as it is: a push that never ends must not stop the
/// repository's other branches.
const DOOMED_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    /// The fetch lock of each repository in use, and how many [`CachedRepo`]s hold or wait
    /// for any of its locks. The count, changed only under this map's lock, drops the entry
    /// when it reaches zero, so the map grows with the repositories in use, not with every
    /// URL ever seen. Dropping it is safe: no one holds or waits for that lock, and whoever
    /// opens the repository next registers a fresh lock under the same map lock before
    /// taking it.
    ///
    /// A repository is deleted only under this map's lock and only while it has no entry,
    /// so no one can be opening or using it meanwhile.
    locks: HashMap<PathBuf, RepoLock>,
    /// The lock of each branch in use, counted and dropped the same way.
    branches: HashMap<(PathBuf, String), RepoLock>,
    /// The size and last use of each repository on disk, for the bound.
    usage: HashMap<PathBuf, Usage>,
    /// Whether the repositories already on disk when the process started (an emptyDir
    /// outlives a container restart) have been measured.
    scanned: bool,
    /// Repositories with more than [`bound::MAX_PACKS`] packs, to delete when their last
    /// user lets go. No new user takes them meanwhile (for at most [`DOOMED_WAIT`]):
    /// otherwise the batches of two busy branches, overlapping, would keep one forever.
    doomed: HashSet<PathBuf>,
}

/// A lock and how many hold or wait for it.
#[derive(Debug, Default)]
struct RepoLock {
    lock: Arc<Mutex<()>>,
    users: usize,
}

impl RepoCache {
    /// A cache in `dir` (created when first used), kept within `max_bytes` on disk.
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        RepoCache {
            dir,
            max_bytes,
            state: Mutex::default(),
            deleted: Condvar::new(),
        }
    }

    /// A cache in `dir` that never deletes a repository.
    pub fn unbounded(dir: PathBuf) -> Self {
        Self::new(dir, u64::MAX)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many repositories are open (held or waited for) right now.
    pub fn in_use(&self) -> usize {
        self.state().locks.len()
    }

    /// How many branch locks exist (held or waited for) right now.
    pub fn branches_in_use(&self) -> usize {
        self.state().branches.len()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the repository at `path` was just used, then deletes the least recently
    /// used repositories no one is using until the cache fits its bound again. The one just
    /// used is kept even when it alone exceeds the bound: deleting it would make every batch
    /// clone it again; it is deleted when it holds more than [`bound::MAX_PACKS`] packs, now
    /// if no one else holds it, or else when the last user lets it go. Call from a blocking
    /// thread, after the batch released the repository.
    pub(crate) fn settle(&self, path: &Path) {
        if self.max_bytes == u64::MAX {
            return;
        }
        let bytes = bound::disk_usage(path);
        let packs = bound::packs(path);
        let found = if self.state().scanned {
            Vec::new()
        } else {
            self.scan()
        };
        let mut state = self.state();
        state.scanned = true;
        for (found, usage) in found {
            state.usage.entry(found).or_insert(usage);
        }
        let last_used = SystemTime::now();
        state
            .usage
            .insert(path.to_owned(), Usage { bytes, last_used });
        let mut victims = {
            let locks = &state.locks;
            let busy = |repo: &Path| repo == path || locks.contains_key(repo);
            bound::victims(&state.usage, busy, self.max_bytes)
        };
        if packs > bound::MAX_PACKS {
            tracing::debug!(repository = %path.display(), packs, "a cached repository has too many packs: it is deleted once no one holds it, and its next batch fetches it afresh");
            match state.locks.contains_key(path) {
                false => victims.push(path.to_owned()),
                true => {
                    state.doomed.insert(path.to_owned());
                }
            }
        }
        for victim in victims {
            delete(&mut state, &victim);
        }
    }

    /// The repositories on disk, measured, last used when last modified. Only folders named
    /// and shaped like the cache's own repositories count: anything else in the folder is
    /// never deleted.
    fn scan(&self) -> Vec<(PathBuf, Usage)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|entry| {
                entry.file_type().is_ok_and(|kind| kind.is_dir())
                    && entry.file_name().to_string_lossy().ends_with(".git")
                    && entry.path().join("HEAD").is_file()
            })
            .map(|entry| {
                let path = entry.path();
                let last_used = entry
                    .metadata()
                    .and_then(|meta| meta.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                let bytes = bound::disk_usage(&path);
                (path, Usage { bytes, last_used })
            })
            .collect()
    }

    /// The repository for `url`, created empty on first use, with the locks of `branch`.
    /// Blocks while another batch initialises it; call from a blocking thread.
    pub(crate) fn open(&self, url: &RepoUrl, branch: &str) -> Result<CachedRepo<'_>, GitError> {
        let path = self.dir.join(Self::dir_name(url));
        let lease = self.lease(path.clone(), branch);
        let repo = {
            let _guard = lease.fetch.lock().unwrap_or_else(PoisonError::into_inner);
            if path.join("HEAD").exists() {
                Repository::open_bare(&path)
            } else {
                std::fs::create_dir_all(&path).map_err(GitError::repository)?;
                Repository::init_bare(&path)
            }
            .map_err(GitError::repository)?
        };
        Ok(CachedRepo { repo, lease })
    }

    /// Registers one more user of `path`'s fetch lock and of its `branch`'s lock (creating
    /// each for its first user).
    fn lease(&self, path: PathBuf, branch: &str) -> Lease<'_> {
        let mut state = self.state();
        if state.doomed.contains(&path) {
            let (waited, timeout) = self
                .deleted
                .wait_timeout_while(state, DOOMED_WAIT, |state| state.doomed.contains(&path))
                .unwrap_or_else(PoisonError::into_inner);
            state = waited;
            if timeout.timed_out() {
                tracing::warn!(repository = %path.display(), "a cached repository with too many packs is still in use after {}s; using it as it is", DOOMED_WAIT.as_secs());
                state.doomed.remove(&path);
            }
        }
        let repository = state.locks.entry(path.clone()).or_default();
        repository.users += 1;
        let fetch = Arc::clone(&repository.lock);
        let key = (path, branch.to_owned());
        let branch = state.branches.entry(key.clone()).or_default();
        branch.users += 1;
        Lease {
            cache: self,
            fetch,
            branch: Arc::clone(&branch.lock),
            key,
        }
    }

    /// `<host>-<path>-<hash>`: readable, and unique per URL (credentials are never in it).
    fn dir_name(url: &RepoUrl) -> String {
        let digest = sha256(url.redacted().as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let slug: String = url
            .redacted()
            .split("://")
            .last()
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .take(60)
            .collect();
        format!("{}-{hash}.git", slug.trim_matches(['-', '.']))
    }
}

/// A cached repository and the locks that keep batches on it apart.
pub(crate) struct CachedRepo<'a> {
    pub repo: Repository,
    lease: Lease<'a>,
}

impl CachedRepo<'_> {
    /// Where the repository is on disk.
    pub(crate) fn path(&self) -> &Path {
        &self.lease.key.0
    }

    /// Holds the branch's lock for as long as the guard lives: one batch at a time on a
    /// branch, from its fetch to its push.
    pub(crate) fn lock_branch(&self) -> MutexGuard<'_, ()> {
        self.lease
            .branch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock every fetch into this repository holds while it writes.
    pub(crate) fn fetch_lock(&self) -> &Mutex<()> {
        &self.lease.fetch
    }
}

/// One user's claim on a repository's fetch lock and a branch's lock; dropping it drops
/// each lock's entry when it was the last.
struct Lease<'a> {
    cache: &'a RepoCache,
    fetch: Arc<Mutex<()>>,
    branch: Arc<Mutex<()>>,
    key: (PathBuf, String),
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.state();
        release(&mut state.branches, &self.key);
        release(&mut state.locks, &self.key.0);
        let path = &self.key.0;
        if !state.locks.contains_key(path) && state.doomed.remove(path) {
            // Under the map's lock with no entry: no one can be opening it (see `State::locks`).
            delete(&mut state, path);
            self.cache.deleted.notify_all();
        }
    }
}

/// Deletes a cached repository no one holds, and forgets its usage.
fn delete(state: &mut State, path: &Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {
            state.usage.remove(path);
        }
        // Already gone (deleted from outside): nothing left to count either.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            state.usage.remove(path);
        }
        Err(error) => {
            tracing::warn!(repository = %path.display(), %error, "could not evict a cached repository");
        }
    }
}

/// One user fewer of `key`'s lock; the last one out removes it.
fn release<Q: std::hash::Hash + Eq + Clone>(locks: &mut HashMap<Q, RepoLock>, key: &Q) {
    if let Some(entry) = locks.get_mut(key) {
        entry.users = entry.users.saturating_sub(1);
        if entry.users == 0 {
            locks.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::git::DEFAULT_CACHE_MAX_BYTES;

    /// Gives the repository at `path` one pack more than the bound allows.
    fn overfill(path: &Path) {
        let packs = path.join("objects/pack");
        for i in 0..=bound::MAX_PACKS {
            std::fs::write(packs.join(format!("pack-{i}.pack")), b"").expect("pack");
        }
    }

    #[test]
    fn a_repository_with_too_many_packs_goes_when_its_last_user_lets_go_and_no_one_takes_it_meanwhile()
     {
        let dir = tempfile::tempdir().expect("dir");
        let cache = RepoCache::new(dir.path().join("cache"), DEFAULT_CACHE_MAX_BYTES);
        let url = RepoUrl::parse("https://git.example.com/r.git").expect("url");
        let held = cache.open(&url, "a").expect("open");
        let path = held.path().to_owned();
        overfill(&path);
        // Another branch's batch ends while `held` is still in use.
        drop(cache.open(&url, "b").expect("open"));
        cache.settle(&path);
        assert!(path.join("HEAD").exists(), "kept while in use");

        let opened = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let next = scope.spawn(|| {
                let next = cache.open(&url, "b").expect("open");
                opened.store(true, Ordering::SeqCst);
                bound::packs(next.path())
            });
            std::thread::sleep(Duration::from_millis(200));
            assert!(!opened.load(Ordering::SeqCst), "a new user waits");
            drop(held);
            // The waiting batch starts from an empty repository.
            assert_eq!(next.join().expect("next"), 0);
        });
        assert_eq!(cache.in_use(), 0);
    }

    #[test]
    fn a_repository_with_too_many_packs_that_no_one_holds_goes_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let cache = RepoCache::new(dir.path().join("cache"), DEFAULT_CACHE_MAX_BYTES);
        let url = RepoUrl::parse("https://git.example.com/r.git").expect("url");
        let path = cache.open(&url, "a").expect("open").path().to_owned();
        overfill(&path);
        cache.settle(&path);
        assert!(!path.exists());
    }
}
