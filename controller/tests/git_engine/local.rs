//! A bare repository on `file://` with an engine of its own: the set-up of every test of
//! commit behaviour that needs no server.

use std::path::PathBuf;

use gco_controller::git::{Change, GitEngine, GitError, Outcome};

use crate::{engine, file_url, support::repos};

/// The repository, its URL and an engine; the folders live as long as the value.
pub struct Local {
    _root: tempfile::TempDir,
    _cache: tempfile::TempDir,
    pub bare: PathBuf,
    pub url: String,
    pub engine: GitEngine,
}

impl Local {
    /// An empty bare repository `name`.
    pub fn empty(name: &str) -> Self {
        let root = tempfile::tempdir().expect("root");
        let bare = repos::bare_repo(root.path(), name);
        let (cache, engine) = engine();
        Local {
            url: file_url(&bare),
            _root: root,
            _cache: cache,
            bare,
            engine,
        }
    }

    /// `r.git` with `files` committed to `main` by a commit named "seed".
    pub fn seeded(files: &[(&str, &str)]) -> Self {
        let local = Self::empty("r.git");
        repos::seed(&local.bare, "main", files, "seed");
        local
    }

    /// A new engine with a new, empty cache: what a restarted operator process has.
    pub fn restart(&mut self) {
        let (cache, engine) = engine();
        (self._cache, self.engine) = (cache, engine);
    }

    /// Commits `change` to `branch`, with no credentials.
    pub async fn commit(&self, branch: &str, change: Change) -> Result<Outcome, GitError> {
        self.engine
            .commit(&self.url, branch, &Default::default(), change)
            .await
    }

    /// The commit on `branch` that carries `change`'s object and run, as a retried run looks
    /// for it, with no credentials.
    pub async fn find(&self, branch: &str, change: &Change) -> Option<String> {
        self.engine
            .find_object_run(
                &self.url,
                branch,
                &Default::default(),
                &change.object,
                &change.run,
                change.at,
            )
            .await
            .expect("find")
    }

    /// Commits `change` to pull request head branch `head`, off `main`, under a lease on
    /// `expected`, with no credentials.
    pub async fn commit_head(
        &self,
        head: &str,
        expected: Option<&str>,
        change: Change,
    ) -> Result<Outcome, GitError> {
        self.engine
            .commit_head_branch(
                &self.url,
                "main",
                head,
                expected,
                &Default::default(),
                change,
            )
            .await
    }

    /// Commits `change` to `branch` and returns the new commit; panics on any other outcome.
    pub async fn committed(&self, branch: &str, change: Change) -> String {
        committed(&self.commit(branch, change).await.expect("commit"))
    }

    /// `path` at the tip of `branch`, `None` if absent.
    pub fn show(&self, branch: &str, path: &str) -> Option<String> {
        repos::show(&self.bare, branch, path)
    }

    /// The tip of `branch`, `None` if absent.
    pub fn tip(&self, branch: &str) -> Option<String> {
        repos::tip(&self.bare, branch)
    }

    /// Commit ids on `branch`, newest first.
    pub fn log(&self, branch: &str) -> Vec<String> {
        repos::log(&self.bare, branch)
    }

    /// `git <args>` in the bare repository, its standard output.
    pub fn git(&self, args: &[&str]) -> String {
        repos::git(&self.bare, args)
    }
}

/// The commit an outcome names; panics unless it is [`Outcome::Committed`].
pub fn committed(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed { commit } => commit.clone(),
        other => panic!("expected a commit, got {other:?}"),
    }
}
