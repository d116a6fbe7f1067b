//! Commit behaviour on `file://` repositories: new branches, no-op writes, refused paths and
//! branch names, and pull request head branches under a lease.

use gco_api::WriteMode::Overwrite;
use gco_controller::git::{GitError, Outcome};
use gco_controller::reconcile::{Failure, failure::FailureReason};

use crate::{
    change,
    local::{Local, committed},
    support::repos,
    write,
};

#[tokio::test]
async fn first_commit_to_an_empty_repository_and_to_a_new_branch() {
    let repo = Local::empty("empty.git");

    let first = repo
        .committed(
            "main",
            change(
                "a",
                "run-1",
                vec![write("clusters/a.yaml", "x: 1\n", Overwrite)],
            ),
        )
        .await;
    assert_eq!(repo.tip("main").as_deref(), Some(first.as_str()));
    assert_eq!(
        repo.show("main", "clusters/a.yaml").as_deref(),
        Some("x: 1\n")
    );
    let message = repo.git(&["log", "-1", "--format=%B%n%an <%ae>", "main"]);
    assert!(
        message.starts_with("Update a\n\nGco-Object: ns/GitCommit/a\nGco-Run: run-1\n"),
        "{message}"
    );
    assert!(message.contains("Test Bot <bot@example.com>"), "{message}");

    // A new branch starts from the default branch's tip.
    let second = repo
        .committed(
            "backups/production",
            change("b", "run-2", vec![write("b.txt", "b", Overwrite)]),
        )
        .await;
    assert_eq!(
        repo.git(&["rev-parse", &format!("{second}^")]).trim(),
        first
    );
    assert_eq!(
        repo.show("backups/production", "clusters/a.yaml")
            .as_deref(),
        Some("x: 1\n")
    );
    assert_eq!(repo.log("main"), vec![first]);
}

#[tokio::test]
async fn unchanged_overwrite_makes_no_commit() {
    let repo = Local::seeded(&[("keep.txt", "keep")]);
    let files = || {
        vec![
            write("cfg/app.yaml", "a: 1\n", Overwrite),
            write("keep.txt", "keep", Overwrite),
        ]
    };

    let first = repo.committed("main", change("a", "r1", files())).await;
    let again = repo
        .commit("main", change("a", "r2", files()))
        .await
        .expect("second");
    assert_eq!(
        again,
        Outcome::NoChanges {
            tip: Some(first.clone())
        }
    );
    assert_eq!(repo.log("main").len(), 2, "seed + one commit");
}

#[tokio::test]
async fn a_file_where_a_folder_is_refused() {
    let repo = Local::seeded(&[("a", "file")]);
    let error = repo
        .commit("main", change("x", "r", vec![write("a/b", "x", Overwrite)]))
        .await
        .expect_err("conflict");
    assert!(matches!(error, GitError::PathConflict { .. }), "{error}");
    let error = repo
        .commit("main:refs/heads/evil", change("x", "r", vec![]))
        .await
        .expect_err("bad branch");
    assert!(matches!(error, GitError::InvalidBranch { .. }), "{error}");
}

#[tokio::test]
async fn pull_request_head_branches_are_updated_only_under_the_lease() {
    let repo = Local::seeded(&[("app.yaml", "v: 1\n")]);
    let head = "gco/ns-sync";
    let pr = |run: &str, v: &str| change("sync", run, vec![write("app.yaml", v, Overwrite)]);
    // Same content as the base: no head branch is created for nothing.
    let empty = repo
        .commit_head(head, None, pr("r0", "v: 1\n"))
        .await
        .expect("empty");
    assert!(matches!(empty, Outcome::NoChanges { .. }), "{empty:?}");
    assert_eq!(repo.tip(head), None);

    let h1 = committed(
        &repo
            .commit_head(head, None, pr("r1", "v: 2\n"))
            .await
            .expect("create"),
    );
    let h2 = committed(
        &repo
            .commit_head(head, Some(&h1), pr("r2", "v: 3\n"))
            .await
            .expect("update"),
    );
    assert_eq!(repo.git(&["rev-parse", &format!("{h2}^")]).trim(), h1);

    repos::seed(
        &repo.bare,
        head,
        &[("human.txt", "edit")],
        "a human pushes to the head branch",
    );
    let error = repo
        .commit_head(head, Some(&h2), pr("r3", "v: 4\n"))
        .await
        .expect_err("diverged");
    assert!(
        matches!(error, GitError::HeadBranchDiverged { .. }),
        "{error}"
    );
    assert_eq!(
        Failure::from(error.clone()).reason,
        FailureReason::HeadBranchDiverged
    );
    assert_eq!(
        repo.show(head, "human.txt").as_deref(),
        Some("edit"),
        "not clobbered"
    );
}
