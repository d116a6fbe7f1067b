//! The objects a batch writes (blobs, trees, its commits) are held in memory, and those its
//! new tip needs are written to the cached repository as one pack before it is pushed.
//!
//! libgit2 writes each object as a file of its own (a loose object) otherwise: a batch of 100
//! changes of 5 files made over 500 files per push, plus a root tree per change that no commit
//! kept, and creating those files was about half the controller's CPU with 1,000 GitCommits on
//! one branch (docs/performance.md). A pack is two files whatever the batch.
//!
//! The pack is written before the branch's local ref points at the new tip, so a ref never
//! names an object that is not on disk, whatever happens after.

use std::collections::HashSet;

use git2::{Mempack, ObjectType, Odb, Oid, Repository, Tree};

use super::GitError;

/// Above every backend of the repository's object database, so that writes land here (libgit2
/// writes to the first writable backend by priority; loose objects have 1).
const PRIORITY: i32 = 1000;

/// The in-memory store of one open repository.
pub(crate) struct Staging<'a> {
    repo: &'a Repository,
    odb: &'a Odb<'a>,
    objects: Mempack<'a>,
}

impl<'a> Staging<'a> {
    /// From now on, objects `repo` writes through `odb` (its object database) stay in memory
    /// until [`Staging::keep`] or [`Staging::discard`]; they are readable meanwhile.
    pub(crate) fn new(repo: &'a Repository, odb: &'a Odb<'a>) -> Result<Self, GitError> {
        let objects = odb
            .add_new_mempack_backend(PRIORITY)
            .map_err(GitError::repository)?;
        Ok(Staging { repo, odb, objects })
    }

    /// Writes to the repository, as one pack, what `tip` has that `base` (a commit already
    /// on disk, `None` for none) does not: the commits from `tip` down to `base` (first
    /// parents: a batch's commits are a line), and the trees and blobs each adds to its
    /// parent's tree. Then forgets everything held in memory.
    pub(crate) fn keep(&self, tip: Oid, base: Option<Oid>) -> Result<(), GitError> {
        let mut pack = self.repo.packbuilder().map_err(GitError::repository)?;
        let mut added = HashSet::new();
        let mut next = Some(tip);
        while let Some(id) = next.filter(|id| Some(*id) != base) {
            let commit = self.repo.find_commit(id).map_err(GitError::repository)?;
            let parent = commit.parents().next();
            let before = parent.as_ref().map(|p| p.tree_id());
            for object in new_objects(self.repo, commit.tree_id(), before, &mut added)? {
                pack.insert_object(object, None)
                    .map_err(GitError::repository)?;
            }
            pack.insert_object(id, None).map_err(GitError::repository)?;
            next = parent.map(|p| p.id());
        }
        pack.write(&self.repo.path().join("objects/pack"), 0)
            .map_err(GitError::repository)?;
        // The new pack must be found before the objects held in memory are dropped.
        self.odb.refresh().map_err(GitError::repository)?;
        self.discard()
    }

    /// Forgets the objects held so far (a build that is thrown away).
    pub(crate) fn discard(&self) -> Result<(), GitError> {
        self.objects.reset().map_err(GitError::repository)
    }
}

/// The trees and blobs under `tree` that are not at the same place under `before`, not yet in
/// `added`. Only trees that changed are read: the walk follows the change, not the repository.
fn new_objects(
    repo: &Repository,
    tree: Oid,
    before: Option<Oid>,
    added: &mut HashSet<Oid>,
) -> Result<Vec<Oid>, GitError> {
    let mut found = Vec::new();
    let mut pending = vec![(tree, before)];
    while let Some((tree, before)) = pending.pop() {
        if Some(tree) == before || !added.insert(tree) {
            continue;
        }
        found.push(tree);
        let now = repo.find_tree(tree).map_err(GitError::repository)?;
        let then: Option<Tree<'_>> = before
            .map(|id| repo.find_tree(id))
            .transpose()
            .map_err(GitError::repository)?;
        for entry in now.iter() {
            let was = then
                .as_ref()
                .and_then(|t| t.get_name_bytes(entry.name_bytes()))
                .filter(|was| was.kind() == entry.kind())
                .map(|was| was.id());
            match entry.kind() {
                Some(ObjectType::Tree) => pending.push((entry.id(), was)),
                Some(ObjectType::Blob) if was != Some(entry.id()) && added.insert(entry.id()) => {
                    found.push(entry.id());
                }
                // Unchanged blobs, and submodules (commits of other repositories).
                _ => {}
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loose_objects(repo: &Repository) -> usize {
        std::fs::read_dir(repo.path().join("objects"))
            .expect("objects")
            .flatten()
            .filter(|dir| dir.file_name().len() == 2)
            .map(|dir| std::fs::read_dir(dir.path()).expect("fan-out").count())
            .sum()
    }

    fn packs(repo: &Repository) -> usize {
        std::fs::read_dir(repo.path().join("objects/pack"))
            .expect("pack")
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(".pack"))
            .count()
    }

    fn commit(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let parent = parent.map(|p| repo.find_commit(p).expect("parent"));
        let mut tree = match &parent {
            Some(p) => repo.treebuilder(Some(&p.tree().expect("tree"))),
            None => repo.treebuilder(None),
        }
        .expect("builder");
        for (name, content) in files {
            let blob = repo.blob(content.as_bytes()).expect("blob");
            let mut sub = repo.treebuilder(None).expect("builder");
            sub.insert(*name, blob, 0o100644).expect("insert");
            let sub = sub.write().expect("subtree");
            tree.insert(*name, sub, 0o040000).expect("insert");
        }
        let tree = repo.find_tree(tree.write().expect("tree")).expect("tree");
        let who = git2::Signature::now("t", "t@example.com").expect("signature");
        let parents: Vec<_> = parent.iter().collect();
        repo.commit(None, &who, &who, "m", &tree, &parents)
            .expect("commit")
    }

    #[test]
    fn a_kept_tip_lands_in_one_pack_with_what_it_adds_and_no_loose_object_is_written() {
        let dir = tempfile::tempdir().expect("dir");
        let (first, second, third, orphan) = {
            let repo = Repository::init_bare(dir.path()).expect("repo");
            let odb = repo.odb().expect("odb");
            let staging = Staging::new(&repo, &odb).expect("staging");
            let first = commit(&repo, None, &[("a", "1"), ("b", "1")]);
            staging.keep(first, None).expect("keep");
            assert_eq!((loose_objects(&repo), packs(&repo)), (0, 1));

            // Two commits on top; a blob and a tree written for nothing are not kept.
            let orphan = repo.blob(b"written, never committed").expect("blob");
            let second = commit(&repo, Some(first), &[("a", "2")]);
            let third = commit(&repo, Some(second), &[("c", "3")]);
            staging.keep(third, Some(first)).expect("keep");
            assert_eq!((loose_objects(&repo), packs(&repo)), (0, 2));
            (first, second, third, orphan)
        };

        // A repository opened afresh, as the next batch does, reads everything from the packs.
        let reopened = Repository::open_bare(dir.path()).expect("reopen");
        let tip = reopened.find_commit(third).expect("tip");
        let tree = tip.tree().expect("tree");
        for (path, content) in [("a/a", "2"), ("b/b", "1"), ("c/c", "3")] {
            let entry = tree.get_path(std::path::Path::new(path)).expect(path);
            let blob = reopened.find_blob(entry.id()).expect(path);
            assert_eq!(blob.content(), content.as_bytes(), "{path}");
        }
        assert!(reopened.find_commit(second).is_ok());
        assert!(reopened.find_commit(first).is_ok());
        assert!(reopened.find_blob(orphan).is_err());
    }

    #[test]
    fn discarded_objects_never_reach_the_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("repo");
        let id = {
            let odb = repo.odb().expect("odb");
            let staging = Staging::new(&repo, &odb).expect("staging");
            let id = repo.blob(b"thrown away").expect("blob");
            staging.discard().expect("discard");
            id
        };
        assert_eq!((loose_objects(&repo), packs(&repo)), (0, 0));
        let reopened = Repository::open_bare(dir.path()).expect("reopen");
        assert!(reopened.find_blob(id).is_err());
    }
}
