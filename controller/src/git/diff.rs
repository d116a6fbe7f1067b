//! What a run would change on a branch, as a patch: the `render --repo` preview.

use std::fmt::Write as _;

use git2::{DiffFormat, DiffOptions, Oid, Repository};

use crate::render::PlannedWrite;

use super::{
    Credentials, GitError, RepoCache,
    session::with_remote,
    tree::{apply_writes, tip_tree},
    url::RepoUrl,
};

/// The patch `writes` would make on `branch` of `url`, or a line saying there is nothing to
/// commit. Blocking; nothing is pushed.
pub fn diff_against_branch(
    cache: &RepoCache,
    url: &str,
    credentials: &Credentials,
    branch: &str,
    writes: &[PlannedWrite],
) -> Result<String, GitError> {
    let url = RepoUrl::parse(url)?;
    with_remote(cache, &url, credentials, &[branch], |remote| {
        let tip = remote.fetch_tip(branch)?;
        patch(remote.repo, branch, tip, writes)
    })
}

/// The patch `writes` make on `tip` of `branch`, or a line saying there is nothing to commit.
fn patch(
    repo: &Repository,
    branch: &str,
    tip: Option<Oid>,
    writes: &[PlannedWrite],
) -> Result<String, GitError> {
    let base_id = tip_tree(repo, tip)?;
    let base = repo.find_tree(base_id).map_err(GitError::repository)?;
    let new_id = apply_writes(repo, &base, writes)?;
    let tip_name = tip.map_or_else(|| "(new branch)".to_owned(), |t| t.to_string());
    if new_id == base_id {
        return Ok(format!("no changes against {branch} at {tip_name}\n"));
    }
    let new = repo.find_tree(new_id).map_err(GitError::repository)?;
    let mut options = DiffOptions::new();
    options.context_lines(3);
    let diff = repo
        .diff_tree_to_tree(Some(&base), Some(&new), Some(&mut options))
        .map_err(GitError::repository)?;
    let mut patch = format!("diff against {branch} at {tip_name}:\n");
    diff.print(DiffFormat::Patch, |_delta, _hunk, line| {
        let origin = line.origin();
        if matches!(origin, '+' | '-' | ' ') {
            patch.push(origin);
        }
        let _ = write!(patch, "{}", String::from_utf8_lossy(line.content()));
        true
    })
    .map_err(GitError::repository)?;
    Ok(patch)
}
