//! Building trees in memory: planned writes become blobs and tree entries, never files in a
//! worktree, so nothing in the repository (a symlink, a hook) can redirect a write.

use std::{collections::BTreeMap, path::Path};

use git2::{FileMode, ObjectType, Oid, Repository, Tree, build::TreeUpdateBuilder};

use crate::render::{Placement, PlannedWrite, place};

use super::GitError;

/// The tree `base` becomes with `writes` applied in order. An append reads the file as it is in
/// `base` (or as an earlier write left it) and adds to it: after a newline if needed, and after
/// a `---` line when it adds a YAML document (`render::Placement`).
pub(crate) fn apply_writes(
    repo: &Repository,
    base: &Tree<'_>,
    writes: &[PlannedWrite],
) -> Result<Oid, GitError> {
    // `None`: the file is removed (only a file: a folder of that name stays).
    let mut staged: BTreeMap<&str, Option<(Vec<u8>, FileMode)>> = BTreeMap::new();
    for write in writes {
        let path = write.path.as_str();
        if write.mode == Placement::Remove {
            let is_file = matches!(base.get_path(Path::new(path)), Ok(e) if e.kind() == Some(ObjectType::Blob));
            if is_file || staged.contains_key(path) {
                staged.insert(path, None);
            }
            continue;
        }
        let (current, mode) = match staged.remove(path) {
            Some(Some(entry)) => entry,
            Some(None) => (Vec::new(), FileMode::Blob),
            None => read_file(repo, base, path)?,
        };
        let content = place(write.mode, current, &write.content);
        staged.insert(path, Some((content, mode)));
    }
    let mut update = TreeUpdateBuilder::new();
    for (path, entry) in &staged {
        match entry {
            Some((content, mode)) => {
                let blob = repo.blob(content).map_err(GitError::repository)?;
                update.upsert(*path, blob, *mode);
            }
            None => {
                update.remove(*path);
            }
        }
    }
    update
        .create_updated(repo, base)
        .map_err(|error| GitError::PathConflict {
            path: staged.keys().copied().collect::<Vec<_>>().join(", "),
            detail: format!(
                "a file and a folder of the same name on the branch ({})",
                error.message()
            ),
        })
}

/// The tree of commit `tip`; the empty tree when there is no tip (a branch not created yet),
/// since that is what a branch's first commit is built on.
pub(crate) fn tip_tree(repo: &Repository, tip: Option<Oid>) -> Result<Oid, GitError> {
    match tip {
        Some(tip) => repo
            .find_commit(tip)
            .and_then(|c| c.tree())
            .map(|t| t.id())
            .map_err(GitError::repository),
        None => empty_tree(repo),
    }
}

/// The empty tree, the base of a branch's first commit.
fn empty_tree(repo: &Repository) -> Result<Oid, GitError> {
    repo.treebuilder(None)
        .and_then(|b| b.write())
        .map_err(GitError::repository)
}

/// A file's content and mode at `path` in `tree`: empty and a plain file if absent. An
/// executable keeps its bit; a symlink is replaced by a plain file, never followed.
fn read_file(
    repo: &Repository,
    tree: &Tree<'_>,
    path: &str,
) -> Result<(Vec<u8>, FileMode), GitError> {
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(error) if error.code() == git2::ErrorCode::NotFound => {
            return Ok((Vec::new(), FileMode::Blob));
        }
        Err(error) => return Err(GitError::repository(error)),
    };
    match entry.kind() {
        Some(ObjectType::Blob) if entry.filemode() == i32::from(FileMode::Link) => {
            Ok((Vec::new(), FileMode::Blob))
        }
        Some(ObjectType::Blob) => {
            let blob = repo.find_blob(entry.id()).map_err(GitError::repository)?;
            let mode = if entry.filemode() == i32::from(FileMode::BlobExecutable) {
                FileMode::BlobExecutable
            } else {
                FileMode::Blob
            };
            Ok((blob.content().to_vec(), mode))
        }
        _ => Err(GitError::PathConflict {
            path: path.to_owned(),
            detail: "the branch has a folder (or submodule) at this path".into(),
        }),
    }
}
