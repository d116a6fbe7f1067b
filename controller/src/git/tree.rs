//! Building trees in memory: planned writes become blobs and tree entries, never files in a
//! worktree, so nothing in the repository (a symlink, a hook) can redirect a write.

use std::{collections::BTreeMap, path::Path};

use git2::{FileMode, ObjectType, Oid, Repository, Tree, build::TreeUpdateBuilder};

use crate::render::{Placement, PlannedWrite, place};

use super::GitError;

/// The tree `base` becomes with `writes` applied in order (see [`Staged::apply`]).
pub(crate) fn apply_writes(
    repo: &Repository,
    base: &Tree<'_>,
    writes: &[PlannedWrite],
) -> Result<Oid, GitError> {
    let mut staged = Staged::new(repo, base.clone());
    staged.apply(writes)?;
    staged.write()
}

/// What a file is after the writes staged so far: its content and mode, or `None` if removed.
type Entry = Option<(Vec<u8>, FileMode)>;

/// Writes applied in order on top of a tree and held in memory until [`Staged::write`] makes
/// the tree: the changes of one commit share one tree update instead of writing a tree each
/// (with a large folder, a root tree per change that no commit keeps).
pub(crate) struct Staged<'r> {
    repo: &'r Repository,
    base: Tree<'r>,
    files: BTreeMap<String, Entry>,
}

impl<'r> Staged<'r> {
    pub(crate) fn new(repo: &'r Repository, base: Tree<'r>) -> Self {
        Staged {
            repo,
            base,
            files: BTreeMap::new(),
        }
    }

    /// Applies `writes` in order after those staged before, and says whether they change
    /// anything. An append reads the file as it is in the base tree (or as an earlier write
    /// left it) and adds to it: after a newline if needed, and after a `---` line when it adds
    /// a YAML document (`render::Placement`). A removal removes a file only while it holds
    /// what the pruning object wrote: not a file an earlier write, or anyone since, wrote.
    pub(crate) fn apply(&mut self, writes: &[PlannedWrite]) -> Result<bool, GitError> {
        // What each path touched was before these writes: `None` when it came from the base.
        let mut before: BTreeMap<&str, Option<Entry>> = BTreeMap::new();
        for write in writes {
            let path = write.path.as_str();
            let staged = self.files.get(path).cloned();
            before.entry(path).or_insert_with(|| staged.clone());
            if let Placement::Remove { guard } = write.mode {
                let holds = match &staged {
                    Some(Some((content, _))) => Oid::hash_object(ObjectType::Blob, content)
                        .is_ok_and(|blob| guard.holds(blob, || Some(content.clone()))),
                    Some(None) => false,
                    None => self.base.get_path(Path::new(path)).is_ok_and(|e| {
                        e.kind() == Some(ObjectType::Blob)
                            && guard.holds(e.id(), || {
                                self.repo
                                    .find_blob(e.id())
                                    .ok()
                                    .map(|b| b.content().to_vec())
                            })
                    }),
                };
                if holds {
                    self.files.insert(path.to_owned(), None);
                }
                continue;
            }
            let (current, mode) = match staged {
                Some(Some(entry)) => entry,
                Some(None) => (Vec::new(), FileMode::Blob),
                None => match read_file(self.repo, &self.base, path) {
                    // An overwrite reads nothing of a folder in its place: if the removals
                    // empty it, the file takes its place; if not, the tree update refuses.
                    Err(GitError::PathConflict { .. }) if !write.mode.appends() => {
                        (Vec::new(), FileMode::Blob)
                    }
                    other => other?,
                },
            };
            let content = place(write.mode, current, &write.content);
            self.files.insert(path.to_owned(), Some((content, mode)));
        }
        Ok(before
            .into_iter()
            .any(|(path, was)| match (was, self.files.get(path)) {
                (_, None) => false,
                (Some(was), Some(now)) => was != *now,
                (None, Some(now)) => !self.base_holds(path, now),
            }))
    }

    /// Whether `writes` might meet a file where a folder is, or a folder where a file is,
    /// given what is staged: a file on the way to a path, or a folder at it. Staged together,
    /// such writes could land or fail depending on the other changes of the commit (a later
    /// removal makes room first), so the caller builds them one change at a time instead.
    pub(crate) fn may_conflict(&self, writes: &[PlannedWrite]) -> bool {
        writes
            .iter()
            .filter(|write| !matches!(write.mode, Placement::Remove { .. }))
            .any(|write| self.may_conflict_at(write.path.as_str()))
    }

    /// [`Staged::may_conflict`] for one path, in one walk down the base tree: a path of
    /// thousands of folders costs as many lookups, not their square.
    fn may_conflict_at(&self, path: &str) -> bool {
        let staged_file_on_the_way = path
            .match_indices('/')
            .any(|(end, _)| matches!(self.files.get(&path[..end]), Some(Some(_))));
        let inside = format!("{path}/");
        let staged_inside = self
            .files
            .range(inside.clone()..)
            .take_while(|(file, _)| file.starts_with(&inside))
            .any(|(_, entry)| entry.is_some());
        if staged_file_on_the_way || staged_inside {
            return true;
        }
        let mut tree = self.base.clone();
        let mut walked = 0;
        for name in path.split('/') {
            let end = walked + name.len();
            let last = end == path.len();
            let Some((kind, id)) = tree.get_name(name).map(|e| (e.kind(), e.id())) else {
                return false;
            };
            match kind {
                // A file at the path is no conflict; on the way, it is one unless staged
                // removed.
                Some(ObjectType::Blob) => {
                    return !last && !matches!(self.files.get(&path[..end]), Some(None));
                }
                Some(ObjectType::Tree) if !last => match self.repo.find_tree(id) {
                    Ok(next) => tree = next,
                    Err(_) => return true,
                },
                // A folder at the path, or a submodule anywhere on it.
                _ => return true,
            }
            walked = end + 1;
        }
        false
    }

    /// Whether the base tree already has `entry` at `path`.
    fn base_holds(&self, path: &str, entry: &Entry) -> bool {
        let found = self.base.get_path(Path::new(path)).ok();
        match (entry, found) {
            (None, found) => found.is_none(),
            (Some((content, mode)), Some(found)) => {
                found.kind() == Some(ObjectType::Blob)
                    && found.filemode() == i32::from(*mode)
                    && Oid::hash_object(ObjectType::Blob, content).is_ok_and(|id| id == found.id())
            }
            (Some(_), None) => false,
        }
    }

    /// The tree the base becomes with everything staged.
    pub(crate) fn write(&self) -> Result<Oid, GitError> {
        let repo = self.repo;
        // Removals first, in a tree of their own: a file removed may leave room for a folder
        // of its name (and a folder emptied, for a file), which one update of both would
        // refuse.
        let mut removals = TreeUpdateBuilder::new();
        let mut removed = false;
        for (path, entry) in &self.files {
            if entry.is_none() {
                removals.remove(path);
                removed = true;
            }
        }
        let base = match removed {
            true => {
                let id = removals
                    .create_updated(repo, &self.base)
                    .map_err(GitError::repository)?;
                repo.find_tree(id).map_err(GitError::repository)?
            }
            false => self.base.clone(),
        };
        let mut update = TreeUpdateBuilder::new();
        for (path, entry) in &self.files {
            if let Some((content, mode)) = entry {
                let blob = repo.blob(content).map_err(GitError::repository)?;
                update.upsert(path, blob, *mode);
            }
        }
        update
            .create_updated(repo, &base)
            .map_err(|error| GitError::PathConflict {
                path: self
                    .files
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                detail: format!(
                    "a file and a folder of the same name on the branch ({})",
                    error.message()
                ),
            })
    }
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

#[cfg(test)]
mod tests {
    use gco_api::paths::check_path;

    use super::*;
    use crate::render::Guard;

    fn write(path: &str, content: &str, mode: Placement) -> PlannedWrite {
        PlannedWrite {
            path: check_path(path).expect("safe"),
            content: content.as_bytes().to_vec(),
            mode,
        }
    }

    fn remove(path: &str, content: &str) -> PlannedWrite {
        let blob = Oid::hash_object(ObjectType::Blob, content.as_bytes()).expect("hash");
        write(
            path,
            "",
            Placement::Remove {
                guard: Guard::Blob(blob),
            },
        )
    }

    /// Every file of `tree` with its content.
    fn listing(repo: &Repository, tree: Oid) -> Vec<(String, String)> {
        let tree = repo.find_tree(tree).expect("tree");
        let mut files = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |folder, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                let blob = repo.find_blob(entry.id()).expect("blob");
                let text = String::from_utf8_lossy(blob.content()).into_owned();
                files.push((format!("{folder}{}", entry.name().unwrap_or("")), text));
            }
            git2::TreeWalkResult::Ok
        })
        .expect("walk");
        files
    }

    fn start(repo: &Repository, writes: &[PlannedWrite]) -> Oid {
        let empty = repo
            .find_tree(empty_tree(repo).expect("empty"))
            .expect("tree");
        apply_writes(repo, &empty, writes).expect("base")
    }

    #[test]
    fn a_removal_deletes_only_a_file_that_still_holds_what_was_written() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("repo");
        let base = start(
            &repo,
            &[
                write("mine.yaml", "mine", Placement::Overwrite),
                write("rewritten.yaml", "someone else's", Placement::Overwrite),
                write("team/x.yaml", "old", Placement::Overwrite),
            ],
        );
        let base = repo.find_tree(base).expect("tree");
        let writes = [
            remove("mine.yaml", "mine"),
            // Someone rewrote it since the pruning object wrote "mine too".
            remove("rewritten.yaml", "mine too"),
            // Another change of the same batch writes it before the removal comes.
            write("team/x.yaml", "new", Placement::Overwrite),
            remove("team/x.yaml", "old"),
            // Already gone: nothing to do.
            remove("gone.yaml", "x"),
        ];
        let tree = apply_writes(&repo, &base, &writes).expect("applied");
        assert_eq!(
            listing(&repo, tree),
            [
                ("rewritten.yaml".to_owned(), "someone else's".to_owned()),
                ("team/x.yaml".to_owned(), "new".to_owned()),
            ]
        );
    }

    #[test]
    fn a_file_removed_makes_room_for_a_folder_of_its_name_and_the_reverse() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("repo");
        let base = start(
            &repo,
            &[
                write("a/b", "file", Placement::Overwrite),
                write("c/d", "in a folder", Placement::Overwrite),
            ],
        );
        let base = repo.find_tree(base).expect("tree");
        let writes = [
            remove("a/b", "file"),
            write("a/b/c", "now a folder", Placement::Overwrite),
            remove("c/d", "in a folder"),
            write("c", "now a file", Placement::Overwrite),
        ];
        let tree = apply_writes(&repo, &base, &writes).expect("applied");
        assert_eq!(
            listing(&repo, tree),
            [
                ("a/b/c".to_owned(), "now a folder".to_owned()),
                ("c".to_owned(), "now a file".to_owned()),
            ]
        );
    }

    #[test]
    fn may_conflict_sees_a_file_on_the_way_and_a_folder_at_the_path_in_one_walk() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("repo");
        let deep = (0..300)
            .map(|i| format!("d{i}"))
            .collect::<Vec<_>>()
            .join("/");
        let base = start(
            &repo,
            &[
                write(&format!("{deep}/file"), "deep", Placement::Overwrite),
                write("a/b", "a file", Placement::Overwrite),
            ],
        );
        let staged = Staged::new(&repo, repo.find_tree(base).expect("tree"));
        let conflicts = |path: &str| staged.may_conflict(&[write(path, "x", Placement::Overwrite)]);
        assert!(
            !conflicts(&format!("{deep}/file")),
            "an overwrite of a file"
        );
        assert!(
            !conflicts(&format!("{deep}/other")),
            "a new file in a folder"
        );
        assert!(
            conflicts(&format!("{deep}/file/under")),
            "a file on the way"
        );
        assert!(conflicts("a/b/c"), "a file on the way");
        assert!(conflicts(&deep), "a folder at the path");
        assert!(conflicts("a"), "a folder at the path");
        // Removals never conflict.
        assert!(!staged.may_conflict(&[remove("a", "x")]));
    }
}
