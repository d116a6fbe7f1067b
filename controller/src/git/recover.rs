//! Recovering a pruning object's inventory from the branch, when its status lost it (the
//! object restored from a backup or applied anew by GitOps comes without a status).
//!
//! A file is the object's when its last write by a commit naming the object (`Gco-Object`)
//! is still what the branch holds, and the object's current spec could write its path: a
//! commit coalescing several objects names them all, and the path templates tell them apart,
//! as `kubectl gco trace` does. The walk reads at most [`RECOVERY_WALK`] commits of the
//! history already fetched, first parents only: recovery is best effort, and never deletes
//! what it cannot attribute.

use std::{collections::HashMap, fmt, sync::Arc};

use git2::{Delta, Oid, Repository, Tree};

use super::{GitError, change::Change, trailers::run_pairs};
use crate::render::{Guard, Placement, PlannedWrite};

/// Most commits a recovery reads.
pub const RECOVERY_WALK: usize = 1000;

/// Which paths a pruning object may claim as its own: those its spec could write, within its
/// policies. Built by the planner, which knows both.
#[derive(Clone)]
pub struct Claims(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl Claims {
    pub fn new(claims: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(claims))
    }

    fn claims(&self, path: &str) -> bool {
        (self.0)(path)
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Claims")
    }
}

/// `change`'s writes, with a removal of each file recovered for its object at `tip` that it
/// no longer writes.
pub(crate) fn with_removals(
    repo: &Repository,
    tip: Option<Oid>,
    change: &Change,
    claims: &Claims,
) -> Result<Vec<PlannedWrite>, GitError> {
    let Some(tip) = tip else {
        return Ok(change.writes.clone());
    };
    let written: std::collections::HashSet<&str> =
        change.writes.iter().map(|w| w.path.as_str()).collect();
    let mut writes = change.writes.clone();
    for (path, blob) in recovered(repo, tip, &change.object.to_string(), claims)? {
        if written.contains(path.as_str()) {
            continue;
        }
        if let Ok(path) = gco_api::paths::check_path(&path) {
            writes.push(PlannedWrite {
                path,
                content: Vec::new(),
                mode: Placement::Remove {
                    guard: Guard::Blob(blob),
                },
            });
        }
    }
    Ok(writes)
}

/// The files at `tip` last written by a commit naming `object` and still holding that blob,
/// that `claims` accepts, sorted by path.
fn recovered(
    repo: &Repository,
    tip: Oid,
    object: &str,
    claims: &Claims,
) -> Result<Vec<(String, Oid)>, GitError> {
    // Newest first: the first write seen of a path is the object's last.
    let mut last_written: HashMap<String, Oid> = HashMap::new();
    let mut at = Some(tip);
    for _ in 0..RECOVERY_WALK {
        let Some(oid) = at else { break };
        let Ok(commit) = repo.find_commit(oid) else {
            break; // the edge of a shallow history
        };
        let parent_id = commit.parent_ids().next();
        let parent_tree = match parent_id {
            Some(parent) => match repo.find_commit(parent) {
                Ok(parent) => Some(parent.tree().map_err(GitError::repository)?),
                Err(_) => break,
            },
            None => None,
        };
        let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
        if run_pairs(&message).iter().any(|(o, _)| *o == object) {
            let tree = commit.tree().map_err(GitError::repository)?;
            for (path, blob) in written(repo, parent_tree.as_ref(), &tree)? {
                last_written.entry(path).or_insert(blob);
            }
        }
        at = parent_id;
    }
    let tip_tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(GitError::repository)?;
    let mut found: Vec<(String, Oid)> = last_written
        .into_iter()
        .filter(|(path, blob)| {
            tip_tree
                .get_path(std::path::Path::new(path))
                .is_ok_and(|entry| entry.id() == *blob)
                && claims.claims(path)
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The files a commit added or changed, with their new blobs.
fn written(
    repo: &Repository,
    parent: Option<&Tree<'_>>,
    tree: &Tree<'_>,
) -> Result<Vec<(String, Oid)>, GitError> {
    let diff = repo
        .diff_tree_to_tree(parent, Some(tree), None)
        .map_err(GitError::repository)?;
    Ok(diff
        .deltas()
        .filter(|d| matches!(d.status(), Delta::Added | Delta::Modified))
        .filter_map(|d| {
            let file = d.new_file();
            Some((file.path()?.to_str()?.to_owned(), file.id()))
        })
        .collect())
}
