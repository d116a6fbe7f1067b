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
    locks: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
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

    /// The repository for `url`, created empty on first use, and its lock. Blocks until no
    /// other batch holds the lock; call from a blocking thread.
    pub(crate) fn open(&self, url: &RepoUrl) -> Result<CachedRepo, GitError> {
        let path = self.dir.join(Self::dir_name(url));
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(path.clone()).or_default())
        };
        let repo = {
            let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            if path.join("HEAD").exists() {
                Repository::open_bare(&path)
            } else {
                std::fs::create_dir_all(&path).map_err(GitError::repository)?;
                Repository::init_bare(&path)
            }
            .map_err(GitError::repository)?
        };
        Ok(CachedRepo { repo, lock })
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
pub(crate) struct CachedRepo {
    pub repo: Repository,
    lock: Arc<Mutex<()>>,
}

impl CachedRepo {
    /// Holds the repository's lock for as long as the guard lives.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
