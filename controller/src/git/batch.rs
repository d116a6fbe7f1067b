//! Turning a batch of changes into commits on a tip, in memory.

use std::{borrow::Cow, collections::HashMap};

use git2::{Oid, Repository, Signature};

use super::{
    GitError,
    change::{Author, Change, RunId},
    history::commit_message,
    recover,
    signing::SIGNATURE_HEADER,
    tree::{apply_writes, tip_tree},
};

/// What building a batch decided for one change, before anything is pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Planned {
    /// In the commit with this id (pushed with the batch's new tip).
    InCommit(Oid),
    /// Its files already match the tip.
    NoChanges,
    /// Its run is already on the branch in this commit.
    AlreadyApplied(Oid),
    /// It could not be applied (e.g. a path conflict); the others go ahead.
    Failed(GitError),
}

/// The batch's new tip (`None` if nothing is to be pushed) and a decision per change.
pub(crate) struct Built {
    pub new_tip: Option<Oid>,
    pub planned: Vec<Planned>,
}

/// Applies `changes` in order on top of `tip` (`None`: the branch is new). Consecutive
/// changes by the same author with the same signing key share one commit; a new author or key
/// starts the next commit, so each commit is signed by the key its changes asked for.
/// `applied` holds, per change, the commit that already carries its run (found in the
/// branch's history by `history::find_runs`): such a change is not applied again.
pub(crate) fn build(
    repo: &Repository,
    tip: Option<Oid>,
    changes: &[Change],
    applied: &[Option<Oid>],
) -> Result<Built, GitError> {
    let mut head = tip;
    let mut tree = tip_tree(repo, tip)?;
    let mut planned = vec![Planned::NoChanges; changes.len()];
    let mut group: Vec<usize> = Vec::new();
    let mut runs: HashMap<&RunId, usize> = HashMap::new();

    for (index, change) in changes.iter().enumerate() {
        if let Some(&first) = runs.get(&change.run) {
            // The same run submitted twice (two workers raced): it lands once.
            planned[index] = planned[first].clone();
            continue;
        }
        runs.insert(&change.run, index);
        if let Some(&Some(commit)) = applied.get(index) {
            planned[index] = Planned::AlreadyApplied(commit);
            continue;
        }
        if group.first().is_some_and(|&g| {
            changes[g].author != change.author || changes[g].signing != change.signing
        }) {
            head = commit_group(repo, head, tree, changes, &mut group, &mut planned)?;
        }
        let base = repo.find_tree(tree).map_err(GitError::repository)?;
        let writes = match &change.recover {
            // Against the branch's tip before this batch: the history the object wrote.
            Some(claims) => Cow::Owned(recover::with_removals(repo, tip, change, claims)?),
            None => Cow::Borrowed(&change.writes),
        };
        match apply_writes(repo, &base, &writes) {
            Ok(new_tree) if new_tree == tree => planned[index] = Planned::NoChanges,
            Ok(new_tree) => {
                tree = new_tree;
                group.push(index);
            }
            Err(error) => planned[index] = Planned::Failed(error),
        }
    }
    head = commit_group(repo, head, tree, changes, &mut group, &mut planned)?;
    // Duplicates copied a decision made before their first's group was committed.
    for index in 0..changes.len() {
        if let Some(&first) = runs.get(&changes[index].run)
            && first != index
        {
            planned[index] = planned[first].clone();
        }
    }
    Ok(Built {
        new_tip: if head == tip { None } else { head },
        planned,
    })
}

/// Commits the changes at `group` (indices into `changes`, all by one author with one signing
/// key) as one commit of `tree` on `parent`, signed when they ask for it, marks them planned
/// in it, and empties `group`. Returns the new head: the commit, or `parent` itself when the
/// group is empty.
fn commit_group(
    repo: &Repository,
    parent: Option<Oid>,
    tree: Oid,
    changes: &[Change],
    group: &mut Vec<usize>,
    planned: &mut [Planned],
) -> Result<Option<Oid>, GitError> {
    if group.is_empty() {
        return Ok(parent);
    }
    let members: Vec<&Change> = group.iter().map(|&i| &changes[i]).collect();
    let author = members
        .first()
        .map_or_else(Author::operator, |c| c.author.clone());
    let signing = members.first().and_then(|c| c.signing.as_ref());
    let signature = Signature::now(&author.name, &author.email).map_err(GitError::repository)?;
    let tree = repo.find_tree(tree).map_err(GitError::repository)?;
    let parent = parent
        .map(|p| repo.find_commit(p))
        .transpose()
        .map_err(GitError::repository)?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let message = commit_message(&members);
    // No update_ref: the commit is published by pushing a ref the caller sets.
    let commit = match signing {
        None => repo
            .commit(None, &signature, &signature, &message, &tree, &parents)
            .map_err(GitError::repository)?,
        Some(key) => {
            // The signature covers the commit object exactly as it is written without it.
            let buffer = repo
                .commit_create_buffer(&signature, &signature, &message, &tree, &parents)
                .map_err(GitError::repository)?;
            let content = std::str::from_utf8(&buffer).map_err(GitError::repository)?;
            let signed = key.sign(content.as_bytes())?;
            repo.commit_signed(content, &signed, Some(SIGNATURE_HEADER))
                .map_err(GitError::repository)?
        }
    };
    for index in group.drain(..) {
        planned[index] = Planned::InCommit(commit);
    }
    Ok(Some(commit))
}
