//! Prune: a GitCommit with `spec.prune` deletes the files it wrote before and no longer
//! writes, in the run's own commit. What it wrote is its inventory (`status.inventory`), as
//! Flux's Kustomization keeps one; the inventory is only ever what the object itself rendered,
//! and every removal is held to the policies' path prefixes like a write. Pure.

use std::collections::BTreeSet;

use gco_api::{
    GitExportPolicy,
    paths::check_path,
    rules::{RenderedPath, check_rendered_paths},
};

use crate::render::{Placement, PlannedWrite};

/// The removals a run adds to `writes`, and the inventory it leaves: every path it writes.
/// A path of `previous` outside the policies' prefixes now is left in place and forgotten: the
/// operator deletes no more than it may write.
pub fn removals(
    writes: &[PlannedWrite],
    previous: Option<&[String]>,
    policies: &[&GitExportPolicy],
) -> (Vec<PlannedWrite>, Vec<String>) {
    let written: BTreeSet<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    let removals = previous
        .unwrap_or_default()
        .iter()
        .filter(|path| !written.contains(path.as_str()))
        .filter_map(|path| removal(path, policies))
        .collect();
    let inventory = written.into_iter().map(str::to_owned).collect();
    (removals, inventory)
}

/// Removals of every file of `inventory`: a pruning object's last commit, when it is deleted.
pub fn remove_all(inventory: &[String], policies: &[&GitExportPolicy]) -> Vec<PlannedWrite> {
    inventory
        .iter()
        .filter_map(|path| removal(path, policies))
        .collect()
}

fn removal(path: &str, policies: &[&GitExportPolicy]) -> Option<PlannedWrite> {
    let path = check_path(path).ok()?;
    let allowed = check_rendered_paths(
        policies,
        [RenderedPath {
            field: "spec.prune",
            path: path.as_str(),
        }],
    );
    allowed.is_ok().then(|| PlannedWrite {
        path,
        content: Vec::new(),
        mode: Placement::Remove,
    })
}

#[cfg(test)]
mod tests {
    use gco_api::{GitExportPolicy, GitExportPolicySpec, policy::PathRules};

    use super::*;

    fn write(path: &str) -> PlannedWrite {
        PlannedWrite {
            path: check_path(path).expect("safe"),
            content: b"x".to_vec(),
            mode: Placement::Overwrite,
        }
    }

    fn paths(writes: &[PlannedWrite]) -> Vec<&str> {
        writes.iter().map(|w| w.path.as_str()).collect()
    }

    #[test]
    fn what_is_no_longer_written_is_removed_and_the_rest_kept() {
        let previous = ["a.yaml".to_owned(), "b.yaml".to_owned(), "c/d".to_owned()];
        let writes = [write("a.yaml"), write("e.yaml")];
        let (removals, inventory) = removals(&writes, Some(&previous), &[]);
        assert_eq!(paths(&removals), ["b.yaml", "c/d"]);
        assert!(removals.iter().all(|r| r.mode == Placement::Remove));
        assert_eq!(inventory, ["a.yaml", "e.yaml"]);
    }

    #[test]
    fn without_an_inventory_nothing_is_removed() {
        let (removals, inventory) = removals(&[write("a.yaml")], None, &[]);
        assert!(removals.is_empty());
        assert_eq!(inventory, ["a.yaml"]);
    }

    #[test]
    fn a_stored_path_outside_the_policy_or_unsafe_is_never_removed() {
        let policy = GitExportPolicy::new(
            "paths",
            GitExportPolicySpec {
                paths: Some(PathRules {
                    allowed_prefixes: vec!["backups/".into()],
                }),
                ..Default::default()
            },
        );
        let previous = [
            "backups/old.yaml".to_owned(),
            "prod/critical.yaml".to_owned(),
            "../escape".to_owned(),
            ".git/config".to_owned(),
        ];
        let removed = remove_all(&previous, &[&policy]);
        assert_eq!(paths(&removed), ["backups/old.yaml"]);
    }
}
