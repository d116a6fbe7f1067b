//! Turning a batch of changes into commits on a tip, in memory.

use std::{borrow::Cow, collections::HashMap};

use git2::{Oid, Repository, Signature};

use super::{
    GitError,
    change::{Author, Change, RunId},
    history::commit_message,
    recover,
    signing::SIGNATURE_HEADER,
    tree::{Staged, apply_writes, tip_tree},
};
use crate::render::PlannedWrite;

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
///
/// The changes of one commit are staged together and make one tree. When any change's writes
/// fail (a file where a folder is, an append to a folder), the batch is built again one change
/// at a time, each on the tree the one before made, so that only the failing changes fail.
pub(crate) fn build(
    repo: &Repository,
    tip: Option<Oid>,
    changes: &[Change],
    applied: &[Option<Oid>],
) -> Result<Built, GitError> {
    if let Some(built) = build_with(repo, tip, changes, applied, Apply::Together)? {
        return Ok(built);
    }
    build_with(repo, tip, changes, applied, Apply::OneByOne)?.ok_or_else(|| {
        GitError::repository("a batch built one change at a time gave up (this is a bug)")
    })
}

/// How a batch's changes become trees.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Apply {
    /// Staged together, one tree per commit; gives up (`None`) at the first failing write.
    Together,
    /// A tree per change; a change whose writes fail is marked failed and the rest go on.
    OneByOne,
}

/// The tree a batch is building, in either [`Apply`] mode.
enum Building<'r> {
    Together(Staged<'r>),
    OneByOne(Oid),
}

impl<'r> Building<'r> {
    fn new(repo: &'r Repository, tree: Oid, apply: Apply) -> Result<Self, GitError> {
        Ok(match apply {
            Apply::Together => {
                let base = repo.find_tree(tree).map_err(GitError::repository)?;
                Building::Together(Staged::new(repo, base))
            }
            Apply::OneByOne => Building::OneByOne(tree),
        })
    }

    /// Applies one change's writes; whether they changed anything.
    fn apply(&mut self, repo: &Repository, writes: &[PlannedWrite]) -> Result<bool, GitError> {
        match self {
            Building::Together(staged) if staged.may_conflict(writes) => Err(GitError::repository(
                "a file and a folder may meet: built one change at a time",
            )),
            Building::Together(staged) => staged.apply(writes),
            Building::OneByOne(tree) => {
                let base = repo.find_tree(*tree).map_err(GitError::repository)?;
                let new_tree = apply_writes(repo, &base, writes)?;
                let changed = new_tree != *tree;
                *tree = new_tree;
                Ok(changed)
            }
        }
    }

    /// The tree with every change applied so far.
    fn tree(&self) -> Result<Oid, GitError> {
        match self {
            Building::Together(staged) => staged.write(),
            Building::OneByOne(tree) => Ok(*tree),
        }
    }
}

/// [`build`] in one mode; `None` when [`Apply::Together`] gave up.
fn build_with(
    repo: &Repository,
    tip: Option<Oid>,
    changes: &[Change],
    applied: &[Option<Oid>],
    apply: Apply,
) -> Result<Option<Built>, GitError> {
    let mut head = tip;
    let mut building = Building::new(repo, tip_tree(repo, tip)?, apply)?;
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
            let Ok(tree) = building.tree() else {
                return Ok(None);
            };
            head = commit_group(repo, head, tree, changes, &mut group, &mut planned)?;
            building = Building::new(repo, tree, apply)?;
        }
        let writes = match &change.recover {
            // Against the branch's tip before this batch: the history the object wrote.
            Some(claims) => Cow::Owned(recover::with_removals(repo, tip, change, claims)?),
            None => Cow::Borrowed(&change.writes),
        };
        match building.apply(repo, &writes) {
            Ok(false) => planned[index] = Planned::NoChanges,
            Ok(true) => group.push(index),
            Err(_) if apply == Apply::Together => return Ok(None),
            Err(error) => planned[index] = Planned::Failed(error),
        }
    }
    let Ok(tree) = building.tree() else {
        return Ok(None);
    };
    head = commit_group(repo, head, tree, changes, &mut group, &mut planned)?;
    // Duplicates copied a decision made before their first's group was committed.
    for index in 0..changes.len() {
        if let Some(&first) = runs.get(&changes[index].run)
            && first != index
        {
            planned[index] = planned[first].clone();
        }
    }
    Ok(Some(Built {
        new_tip: if head == tip { None } else { head },
        planned,
    }))
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

#[cfg(test)]
mod tests {
    use gco_api::paths::check_path;
    use jiff::Timestamp;

    use super::*;
    use crate::{
        git::trailers::tests::{object, run},
        render::Placement,
    };

    fn change(name: &str, files: &[(&str, &str)]) -> Change {
        let writes = files
            .iter()
            .map(|(path, content)| PlannedWrite {
                path: check_path(path).expect("safe"),
                content: content.as_bytes().to_vec(),
                mode: Placement::Overwrite,
            })
            .collect();
        Change {
            object: object(name),
            run: run(name),
            author: Author::operator(),
            message: name.into(),
            writes,
            signing: None,
            at: Timestamp::now(),
            recover: None,
        }
    }

    fn file(repo: &Repository, commit: Oid, path: &str) -> Option<String> {
        let tree = repo.find_commit(commit).ok()?.tree().ok()?;
        let entry = tree.get_path(std::path::Path::new(path)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    }

    fn bare() -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("repo");
        (dir, repo)
    }

    /// A repository whose first commit holds `files`, and that commit.
    fn seeded(files: &[(&str, &str)]) -> (tempfile::TempDir, Repository, Option<Oid>) {
        let (dir, repo) = bare();
        let first = build(&repo, None, &[change("base", files)], &[None])
            .expect("built")
            .new_tip;
        (dir, repo, first)
    }

    fn assert_conflict(planned: &Planned) {
        assert!(
            matches!(planned, Planned::Failed(GitError::PathConflict { .. })),
            "{planned:?}"
        );
    }

    #[test]
    fn changes_of_one_author_share_one_commit_and_a_change_that_writes_nothing_new_is_told_so() {
        let (_dir, repo, first) = seeded(&[("kept", "1")]);
        let changes = [
            change("a", &[("a/x", "a")]),
            change("same", &[("kept", "1")]),
            change("b", &[("b/y", "b"), ("kept", "2")]),
            // Writes back what `b` changed: it changes the tree as `b` left it.
            change("c", &[("kept", "1")]),
        ];
        let built = build(&repo, first, &changes, &[None; 4]).expect("built");
        let tip = built.new_tip.expect("a commit");
        let commit = repo.find_commit(tip).expect("commit");
        assert_eq!(
            commit.parent_ids().collect::<Vec<_>>(),
            [first.expect("first")]
        );
        assert_eq!(
            built.planned,
            [
                Planned::InCommit(tip),
                Planned::NoChanges,
                Planned::InCommit(tip),
                Planned::InCommit(tip),
            ]
        );
        assert_eq!(file(&repo, tip, "a/x").as_deref(), Some("a"));
        assert_eq!(file(&repo, tip, "b/y").as_deref(), Some("b"));
        assert_eq!(file(&repo, tip, "kept").as_deref(), Some("1"));
    }

    #[test]
    fn a_change_whose_writes_conflict_fails_alone_as_it_would_one_change_at_a_time() {
        let (_dir, repo) = bare();
        let changes = [
            change("file", &[("x", "a file")]),
            // A folder where the change before left a file.
            change("folder", &[("x/y", "in a folder")]),
            change("other", &[("z", "z")]),
        ];
        let built = build(&repo, None, &changes, &[None; 3]).expect("built");
        let tip = built.new_tip.expect("a commit");
        assert_eq!(built.planned[0], Planned::InCommit(tip));
        assert_conflict(&built.planned[1]);
        assert_eq!(built.planned[2], Planned::InCommit(tip));
        assert_eq!(file(&repo, tip, "x").as_deref(), Some("a file"));
        assert_eq!(file(&repo, tip, "z").as_deref(), Some("z"));
    }

    #[test]
    fn a_write_through_a_file_that_a_later_change_removes_fails_as_it_would_one_at_a_time() {
        let (_dir, repo, base) = seeded(&[("x", "a file")]);
        let mut prune = change("prune", &[]);
        prune.writes = vec![PlannedWrite {
            path: check_path("x").expect("safe"),
            content: Vec::new(),
            mode: Placement::Remove {
                guard: crate::render::Guard::Blob(
                    Oid::hash_object(git2::ObjectType::Blob, b"a file").expect("hash"),
                ),
            },
        }];
        // Staged together, the removal would make room first; one at a time it comes after.
        let changes = [change("through", &[("x/y", "in a folder")]), prune];
        let built = build(&repo, base, &changes, &[None; 2]).expect("built");
        let tip = built.new_tip.expect("a commit");
        assert_conflict(&built.planned[0]);
        assert_eq!(built.planned[1], Planned::InCommit(tip));
        assert_eq!(file(&repo, tip, "x"), None);
    }
}
