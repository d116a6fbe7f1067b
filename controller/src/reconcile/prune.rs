//! Prune: a GitCommit with `spec.prune` deletes the files it wrote before and no longer
//! writes, in the run's own commit. What it wrote is its inventory (`status.inventory`), as
//! Flux's Kustomization keeps one. Pure.
//!
//! A file is deleted only if the object itself wrote it there: the inventory names the
//! repository and branch, and each file's blob as the object wrote it, and the engine removes
//! a file only while it still holds that blob (`git/tree.rs`), so a file another object or
//! person rewrote since is left alone. Appended files are shared by nature and never enter the
//! inventory. Every removal is held to the policies' path prefixes, like a write.

use std::collections::BTreeSet;

use gco_api::{
    ExportSpec, GitExportPolicy, Inventory, InventoryFile,
    paths::check_path,
    rules::{RenderedPath, check_rendered_paths},
    status::MAX_INVENTORY_BYTES,
};
use git2::{ObjectType, Oid};

use super::{Failure, failure::FailureReason};
use crate::{
    git::Claims,
    render::{Guard, Placement, PlannedWrite, templates::could_write},
    seal::hex,
};

/// How an inventory names a sealed file's digest instead of a blob id.
const SEALED: &str = "hmac-sha256:";
/// How an inventory names an age-encrypted file: only its recipients can tell its content.
const ENCRYPTED: &str = "age";

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The inventory a run leaves at `repository`/`branch`: every file it overwrites, with the
/// blob it writes. Refused past [`MAX_INVENTORY_BYTES`], which would not fit in the status.
pub fn inventory(
    writes: &[PlannedWrite],
    repository: &str,
    branch: &str,
) -> Result<Inventory, Failure> {
    let mut files: Vec<InventoryFile> = writes
        .iter()
        .filter_map(|w| {
            let blob = match w.mode {
                Placement::Overwrite => Oid::hash_object(ObjectType::Blob, &w.content)
                    .ok()?
                    .to_string(),
                Placement::Sealed { digest } => format!("{SEALED}{}", hex(&digest)),
                Placement::Encrypted { .. } => ENCRYPTED.to_owned(),
                _ => return None,
            };
            Some(InventoryFile {
                path: w.path.to_string(),
                blob,
            })
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let bytes: usize = files.iter().map(|f| f.path.len() + f.blob.len()).sum();
    if bytes > MAX_INVENTORY_BYTES {
        return Err(Failure::new(
            FailureReason::RenderFailed,
            format!(
                "spec.prune: the {} files written take {bytes} bytes of paths, over the \
                 {MAX_INVENTORY_BYTES} the inventory may hold: write fewer files or use shorter \
                 paths, or turn prune off",
                files.len()
            ),
        ));
    }
    Ok(Inventory {
        repository: repository.to_owned(),
        branch: branch.to_owned(),
        files,
    })
}

/// The removals a run adds: the files of `previous` that `next` no longer lists, when both
/// are of the same repository and branch (after the spec moved, the old branch's files stay).
pub fn removals(
    previous: Option<&Inventory>,
    next: &Inventory,
    policies: &[&GitExportPolicy],
) -> Vec<PlannedWrite> {
    let Some(previous) = previous.filter(|p| same_place(p, next)) else {
        return Vec::new();
    };
    let kept: BTreeSet<&str> = next.files.iter().map(|f| f.path.as_str()).collect();
    let gone = previous
        .files
        .iter()
        .filter(|f| !kept.contains(f.path.as_str()));
    gone.filter_map(|file| removal(file, policies)).collect()
}

/// Removals of every file of `inventory`: a pruning object's last commit, when it is deleted.
pub fn remove_all(inventory: &Inventory, policies: &[&GitExportPolicy]) -> Vec<PlannedWrite> {
    inventory
        .files
        .iter()
        .filter_map(|file| removal(file, policies))
        .collect()
}

/// What a pruning object whose inventory was lost may claim on its branch: paths its spec
/// could write, within its policies' prefixes (`git/recover.rs`).
pub fn claims(export: &ExportSpec, policies: &[&GitExportPolicy]) -> Claims {
    let export = export.clone();
    let policies: Vec<GitExportPolicy> = policies.iter().map(|p| (*p).clone()).collect();
    Claims::new(move |path| {
        let policies: Vec<&GitExportPolicy> = policies.iter().collect();
        could_write(&export, path)
            && check_rendered_paths(
                &policies,
                [RenderedPath {
                    field: "spec.prune",
                    path,
                }],
            )
            .is_ok()
    })
}

/// Whether two inventories are of the same repository and branch.
pub fn same_place(a: &Inventory, b: &Inventory) -> bool {
    a.repository == b.repository && a.branch == b.branch
}

fn removal(file: &InventoryFile, policies: &[&GitExportPolicy]) -> Option<PlannedWrite> {
    let path = check_path(&file.path).ok()?;
    let guard = match file.blob.strip_prefix(SEALED) {
        Some(digest) => Guard::Digest(from_hex(digest)?),
        None if file.blob == ENCRYPTED => Guard::Any,
        None => Guard::Blob(Oid::from_str(&file.blob).ok()?),
    };
    let allowed = check_rendered_paths(
        policies,
        [RenderedPath {
            field: "spec.prune",
            path: path.as_str(),
        }],
    );
    allowed.is_ok().then_some(PlannedWrite {
        path,
        content: Vec::new(),
        mode: Placement::Remove { guard },
    })
}

#[cfg(test)]
mod tests {
    use gco_api::{GitExportPolicy, GitExportPolicySpec, policy::PathRules};

    use super::*;

    fn write(path: &str, mode: Placement) -> PlannedWrite {
        PlannedWrite {
            path: check_path(path).expect("safe"),
            content: path.as_bytes().to_vec(),
            mode,
        }
    }

    fn at(branch: &str, writes: &[PlannedWrite]) -> Inventory {
        inventory(writes, "https://git.example.com/a.git", branch).expect("fits")
    }

    fn paths(writes: &[PlannedWrite]) -> Vec<&str> {
        writes.iter().map(|w| w.path.as_str()).collect()
    }

    #[test]
    fn what_is_no_longer_written_is_removed_only_while_it_holds_what_was_written() {
        let before = at(
            "main",
            &[
                write("a.yaml", Placement::Overwrite),
                write("b.yaml", Placement::Overwrite),
                write("log.txt", Placement::Append),
            ],
        );
        assert_eq!(
            before
                .files
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>(),
            ["a.yaml", "b.yaml"],
            "appended files are shared: never in the inventory"
        );
        let after = at("main", &[write("a.yaml", Placement::Overwrite)]);
        let removed = removals(Some(&before), &after, &[]);
        assert_eq!(paths(&removed), ["b.yaml"]);
        let expected = Oid::hash_object(ObjectType::Blob, b"b.yaml").expect("hash");
        assert_eq!(
            removed[0].mode,
            Placement::Remove {
                guard: Guard::Blob(expected)
            }
        );
    }

    #[test]
    fn nothing_is_removed_without_an_inventory_or_on_another_branch() {
        let after = at("main", &[write("a.yaml", Placement::Overwrite)]);
        assert!(removals(None, &after, &[]).is_empty());
        let elsewhere = at("backups", &[write("b.yaml", Placement::Overwrite)]);
        assert!(removals(Some(&elsewhere), &after, &[]).is_empty());
    }

    #[test]
    fn an_inventory_too_large_for_the_status_is_refused_naming_prune() {
        let long = "d/".repeat(1000) + "f";
        let writes: Vec<_> = (0..200)
            .map(|i| write(&format!("{long}{i}"), Placement::Overwrite))
            .collect();
        let refused = inventory(&writes, "u", "main").expect_err("too large");
        assert!(
            refused.message.starts_with("spec.prune:"),
            "{}",
            refused.message
        );
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
        let blob = Oid::hash_object(ObjectType::Blob, b"x")
            .expect("hash")
            .to_string();
        let file = |path: &str| InventoryFile {
            path: path.into(),
            blob: blob.clone(),
        };
        let stored = Inventory {
            repository: "u".into(),
            branch: "main".into(),
            files: vec![
                file("backups/old.yaml"),
                file("prod/critical.yaml"),
                file("../escape"),
                file(".git/config"),
                InventoryFile {
                    path: "backups/bad-blob".into(),
                    blob: "not a blob id".into(),
                },
            ],
        };
        assert_eq!(
            paths(&remove_all(&stored, &[&policy])),
            ["backups/old.yaml"]
        );
    }
}
