//! Reading a repository for `trace`: fetch one branch anonymously into a temporary bare
//! repository with libgit2 (as the controller's engine does), then find the newest commit
//! that changed a path.

use std::path::Path;

use gco_api::redact_url;
use git2::{FetchOptions, Oid, Repository, Sort};

use crate::error::CliError;

/// The newest commit on a branch that changed a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub commit: String,
    pub message: String,
    pub time: jiff::Timestamp,
    /// Whether that commit deleted the file.
    pub deleted: bool,
}

/// How far back `trace` looks, so a file untouched for years costs a bounded walk.
pub const MAX_COMMITS: usize = 10_000;

/// The newest commit on `branch` of `repo` (a path or URL) that changed `path`.
pub fn last_touch(repo: &str, branch: &str, path: &str) -> Result<Option<Touch>, CliError> {
    let shown = redact_url(repo);
    let git_error = |what: String| {
        move |e: git2::Error| CliError::Git {
            what,
            reason: e.message().to_owned(),
        }
    };
    let scratch = tempfile::Builder::new()
        .prefix("gco-trace-")
        .tempdir()
        .map_err(|e| CliError::Io {
            what: "create a temporary folder".into(),
            reason: e.to_string(),
        })?;
    let local = Repository::init_bare(scratch.path())
        .map_err(git_error("create a scratch repository".into()))?;
    let url = gco_controller::render::offline::repository_url(repo);
    let mut remote = local
        .remote_anonymous(&url)
        .map_err(git_error(format!("open {shown}")))?;
    let refspec = format!("+refs/heads/{branch}:refs/remotes/origin/{branch}");
    remote
        .fetch(&[refspec.as_str()], Some(&mut FetchOptions::new()), None)
        .map_err(|e| CliError::Git {
            what: format!("fetch branch {branch} of {shown}"),
            reason: format!(
                "{}; check the URL and branch (trace reads anonymously: use a URL you can clone without credentials)",
                redact_url(e.message())
            ),
        })?;
    let tip = match local.refname_to_id(&format!("refs/remotes/origin/{branch}")) {
        Ok(tip) => tip,
        Err(_) => {
            return Err(CliError::Failed(format!(
                "{shown} has no branch {branch}: name another with --branch"
            )));
        }
    };
    newest_touch(&local, tip, path).map_err(git_error(format!("read the history of {shown}")))
}

/// The newest commit reachable from `tip` whose tree holds `path` differently from its first
/// parent's (or at all, for a root commit).
fn newest_touch(repo: &Repository, tip: Oid, path: &str) -> Result<Option<Touch>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.set_sorting(Sort::TIME | Sort::TOPOLOGICAL)?;
    walk.push(tip)?;
    let entry_of = |tree: &git2::Tree<'_>| tree.get_path(Path::new(path)).ok().map(|e| e.id());
    for oid in walk.take(MAX_COMMITS) {
        let commit = repo.find_commit(oid?)?;
        let now = entry_of(&commit.tree()?);
        let before = match commit.parent(0) {
            Ok(parent) => entry_of(&parent.tree()?),
            Err(_) => None,
        };
        if now != before {
            let time = jiff::Timestamp::from_second(commit.time().seconds())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            return Ok(Some(Touch {
                commit: commit.id().to_string(),
                message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
                time,
                deleted: now.is_none(),
            }));
        }
    }
    Ok(None)
}
