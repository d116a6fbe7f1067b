//! The local cache: one bare repository per repository URL, reused across runs, so a run
//! fetches only what changed instead of cloning.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use git2::Repository;
use openssl::sha::sha256;

use super::{GitError, url::RepoUrl};

/// Bare repositories under one directory, and a lock per repository: the fetch, build and
/// push of one batch own the repository's refs until they are done.
#[derive(Debug)]
pub struct RepoCache {
    dir: PathBuf,
    /// The lock of each repository in use, and how many [`CachedRepo`]s hold or wait for
    /// it. The count, changed only under this map's lock, drops the entry when it reaches
    /// zero, so the map grows with the repositories in use, not with every URL ever seen.
    /// Dropping it is safe: no one holds or waits for that lock, and whoever opens the
    /// repository next registers a fresh lock under the same map lock before taking it.
    locks: Mutex<HashMap<PathBuf, RepoLock>>,
}

/// A repository's lock and how many hold or wait for it.
#[derive(Debug, Default)]
struct RepoLock {
    lock: Arc<Mutex<()>>,
    users: usize,
}

impl RepoCache {
    /// A cache in `dir` (created when first used).
    pub fn new(dir: PathBuf) -> Self {
        RepoCache {
            dir,
            locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many repositories are open (held or waited for) right now.
    pub fn in_use(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The repository for `url`, created empty on first use, and its lock. Blocks until no
    /// other batch holds the lock; call from a blocking thread.
    pub(crate) fn open(&self, url: &RepoUrl) -> Result<CachedRepo<'_>, GitError> {
        let path = self.dir.join(Self::dir_name(url));
        let lease = self.lease(path.clone());
        let repo = {
            let _guard = lease.lock.lock().unwrap_or_else(PoisonError::into_inner);
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

    /// Registers one more user of `path`'s lock (creating the lock for the first).
    fn lease(&self, path: PathBuf) -> Lease<'_> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = locks.entry(path.clone()).or_default();
        entry.users += 1;
        Lease {
            cache: self,
            lock: Arc::clone(&entry.lock),
            path,
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

/// A cached repository and the lock that serialises work on it.
pub(crate) struct CachedRepo<'a> {
    pub repo: Repository,
    lease: Lease<'a>,
}

impl CachedRepo<'_> {
    /// Holds the repository's lock for as long as the guard lives.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lease
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One user's claim on a repository's lock; dropping it drops the lock's entry when it was
/// the last.
struct Lease<'a> {
    cache: &'a RepoCache,
    lock: Arc<Mutex<()>>,
    path: PathBuf,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut locks = self
            .cache
            .locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = locks.get_mut(&self.path) {
            entry.users = entry.users.saturating_sub(1);
            if entry.users == 0 {
                locks.remove(&self.path);
            }
        }
    }
}
