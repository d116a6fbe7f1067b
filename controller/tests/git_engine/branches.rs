//! Commit behaviour on `file://` and `git daemon` repositories.

use std::{sync::Arc, thread};

use gco_api::WriteMode::{Append, Overwrite};
use gco_controller::git::{GitError, Outcome};
use gco_controller::reconcile::{Failure, failure::FailureReason};

use crate::{
    change, engine, file_url,
    support::{daemon::GitDaemon, repos},
    write,
};

fn committed(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed { commit } => commit.clone(),
        other => panic!("expected a commit, got {other:?}"),
    }
}

#[tokio::test]
async fn first_commit_to_an_empty_repository_and_to_a_new_branch() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "empty.git");
    let (_cache, engine) = engine();
    let url = file_url(&bare);
    let none = Default::default();

    let outcome = engine
        .commit(
            &url,
            "main",
            &none,
            change(
                "a",
                "run-1",
                vec![write("clusters/a.yaml", "x: 1\n", Overwrite)],
            ),
        )
        .await
        .expect("commit");
    let first = committed(&outcome);
    assert_eq!(repos::tip(&bare, "main").as_deref(), Some(first.as_str()));
    assert_eq!(
        repos::show(&bare, "main", "clusters/a.yaml").as_deref(),
        Some("x: 1\n")
    );
    let message = repos::git(&bare, &["log", "-1", "--format=%B%n%an <%ae>", "main"]);
    assert!(
        message.starts_with("Update a\n\nGco-Object: ns/GitCommit/a\nGco-Run: run-1\n"),
        "{message}"
    );
    assert!(message.contains("Test Bot <bot@example.com>"), "{message}");

    // A new branch starts from the default branch's tip.
    let outcome = engine
        .commit(
            &url,
            "backups/production",
            &none,
            change("b", "run-2", vec![write("b.txt", "b", Overwrite)]),
        )
        .await
        .expect("commit to a new branch");
    let second = committed(&outcome);
    assert_eq!(
        repos::git(&bare, &["rev-parse", &format!("{second}^")]).trim(),
        first
    );
    assert_eq!(
        repos::show(&bare, "backups/production", "clusters/a.yaml").as_deref(),
        Some("x: 1\n")
    );
    assert_eq!(repos::log(&bare, "main"), vec![first]);
}

#[tokio::test]
async fn unchanged_overwrite_makes_no_commit() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    repos::seed(&bare, "main", &[("keep.txt", "keep")], "seed");
    let (_cache, engine) = engine();
    let (url, none) = (file_url(&bare), Default::default());
    let files = || {
        vec![
            write("cfg/app.yaml", "a: 1\n", Overwrite),
            write("keep.txt", "keep", Overwrite),
        ]
    };

    let first = committed(
        &engine
            .commit(&url, "main", &none, change("a", "r1", files()))
            .await
            .expect("first"),
    );
    let again = engine
        .commit(&url, "main", &none, change("a", "r2", files()))
        .await
        .expect("second");
    assert_eq!(
        again,
        Outcome::NoChanges {
            tip: Some(first.clone())
        }
    );
    assert_eq!(repos::log(&bare, "main").len(), 2, "seed + one commit");
}

#[tokio::test]
async fn append_runs_exactly_once_per_run_id() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    repos::seed(
        &bare,
        "main",
        &[("reports/drift.log", "existing line without newline")],
        "seed",
    );
    let (_cache, engine) = engine();
    let (url, none) = (file_url(&bare), Default::default());
    let report = |run: &str, text: &str| {
        change("drift", run, vec![write("reports/drift.log", text, Append)])
    };

    let first = committed(
        &engine
            .commit(&url, "main", &none, report("run-1", "report 1\n"))
            .await
            .expect("append"),
    );
    let repeat = engine
        .commit(&url, "main", &none, report("run-1", "report 1\n"))
        .await
        .expect("repeat");
    assert_eq!(repeat, Outcome::AlreadyApplied { commit: first });
    committed(
        &engine
            .commit(&url, "main", &none, report("run-2", "report 2\n"))
            .await
            .expect("append 2"),
    );
    assert_eq!(
        repos::show(&bare, "main", "reports/drift.log").as_deref(),
        Some("existing line without newline\nreport 1\nreport 2\n")
    );
}

#[tokio::test]
async fn a_run_pushed_before_a_crash_is_not_committed_again() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    let url = file_url(&bare);
    let none = Default::default();
    let run = || {
        change(
            "drift",
            "uid-1-gen-3",
            vec![write("log.txt", "entry\n", Append)],
        )
    };
    let pushed = {
        let (_cache, engine) = engine();
        committed(
            &engine
                .commit(&url, "main", &none, run())
                .await
                .expect("push"),
        )
        // The "process" dies here, before writing status: engine and cache are gone.
    };
    repos::seed(
        &bare,
        "main",
        &[("other.txt", "someone else")],
        "unrelated commit",
    );
    let (_cache, restarted) = engine();
    let run_id = run().run;
    assert_eq!(
        restarted
            .find_run(&url, "main", &none, &run_id)
            .await
            .expect("find"),
        Some(pushed.clone())
    );
    let retry = restarted
        .commit(&url, "main", &none, run())
        .await
        .expect("retry");
    assert_eq!(retry, Outcome::AlreadyApplied { commit: pushed });
    assert_eq!(
        repos::show(&bare, "main", "log.txt").as_deref(),
        Some("entry\n")
    );
}

#[tokio::test]
async fn a_file_where_a_folder_is_refused() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    repos::seed(&bare, "main", &[("a", "file")], "seed");
    let (_cache, engine) = engine();
    let error = engine
        .commit(
            &file_url(&bare),
            "main",
            &Default::default(),
            change("x", "r", vec![write("a/b", "x", Overwrite)]),
        )
        .await
        .expect_err("conflict");
    assert!(matches!(error, GitError::PathConflict { .. }), "{error}");
    let error = engine
        .commit(
            &file_url(&bare),
            "main:refs/heads/evil",
            &Default::default(),
            change("x", "r", vec![]),
        )
        .await
        .expect_err("bad branch");
    assert!(matches!(error, GitError::InvalidBranch { .. }), "{error}");
}

#[tokio::test]
async fn pull_request_head_branches_are_updated_only_under_the_lease() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    repos::seed(&bare, "main", &[("app.yaml", "v: 1\n")], "seed");
    let (_cache, engine) = engine();
    let (url, none) = (file_url(&bare), Default::default());
    let head = "gco/ns-sync";
    let pr = |run: &str, v: &str| change("sync", run, vec![write("app.yaml", v, Overwrite)]);

    // Same content as the base: no head branch is created for nothing.
    let empty = engine
        .commit_head_branch(&url, "main", head, None, &none, pr("r0", "v: 1\n"))
        .await
        .expect("empty");
    assert!(matches!(empty, Outcome::NoChanges { .. }), "{empty:?}");
    assert_eq!(repos::tip(&bare, head), None);

    let h1 = committed(
        &engine
            .commit_head_branch(&url, "main", head, None, &none, pr("r1", "v: 2\n"))
            .await
            .expect("create"),
    );
    let h2 = committed(
        &engine
            .commit_head_branch(&url, "main", head, Some(&h1), &none, pr("r2", "v: 3\n"))
            .await
            .expect("update"),
    );
    assert_eq!(
        repos::git(&bare, &["rev-parse", &format!("{h2}^")]).trim(),
        h1
    );

    repos::seed(
        &bare,
        head,
        &[("human.txt", "edit")],
        "a human pushes to the head branch",
    );
    let error = engine
        .commit_head_branch(&url, "main", head, Some(&h2), &none, pr("r3", "v: 4\n"))
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
        repos::show(&bare, head, "human.txt").as_deref(),
        Some("edit"),
        "not clobbered"
    );
}

/// 20 writers through two engines (two operator processes) and a human pushing with the git
/// CLI, all on one branch served by `git daemon`: every change lands, history stays linear,
/// nothing is forced (the repository refuses non-fast-forward updates).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_and_an_external_pusher_all_land() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "busy.git");
    repos::seed(&bare, "main", &[("README", "busy\n")], "seed");
    let daemon = GitDaemon::start(root.path());
    let url = daemon.url("busy.git");
    let (_c1, one) = engine();
    let (_c2, two) = engine();
    let engines = Arc::new([one, two]);

    let external = {
        let url = url.clone();
        thread::spawn(move || external_pushes(&url, 3))
    };
    let mut writers = Vec::new();
    for i in 0..20 {
        let (engines, url) = (Arc::clone(&engines), url.clone());
        writers.push(tokio::spawn(async move {
            let change = change(
                &format!("obj-{i}"),
                &format!("run-{i}"),
                vec![
                    write(
                        &format!("objs/obj-{i}.yaml"),
                        &format!("i: {i}\n"),
                        Overwrite,
                    ),
                    write("shared/all.log", &format!("obj-{i}\n"), Append),
                ],
            );
            engines[i % 2]
                .commit(&url, "main", &Default::default(), change)
                .await
        }));
    }
    let mut commits = Vec::new();
    for writer in writers {
        commits.push(committed(&writer.await.expect("join").expect("commit")));
    }
    external.join().expect("external pusher");

    let tip = repos::tip(&bare, "main").expect("tip");
    for i in 0..20 {
        assert_eq!(
            repos::show(&bare, "main", &format!("objs/obj-{i}.yaml")),
            Some(format!("i: {i}\n"))
        );
    }
    let log = repos::show(&bare, "main", "shared/all.log").expect("shared log");
    assert_eq!(log.lines().count(), 20, "every append landed once:\n{log}");
    for n in 0..3 {
        assert!(repos::show(&bare, "main", &format!("external-{n}.txt")).is_some());
    }
    for commit in &commits {
        repos::git(&bare, &["merge-base", "--is-ancestor", commit, &tip]);
    }
    let merges = repos::git(&bare, &["rev-list", "--merges", "main"]);
    assert!(merges.trim().is_empty(), "history is linear");
    let distinct: std::collections::HashSet<_> = commits.iter().collect();
    eprintln!("20 changes landed in {} commits", distinct.len());
}

/// Clone, commit, push with the git CLI, `count` times, rebasing when it loses a race.
fn external_pushes(url: &str, count: usize) {
    let work = tempfile::tempdir().expect("worktree");
    let dir = work.path().join("w");
    repos::git(work.path(), &["clone", "--quiet", url, "w"]);
    for n in 0..count {
        std::fs::write(dir.join(format!("external-{n}.txt")), "by hand\n").expect("write");
        repos::git(&dir, &["add", "-A"]);
        repos::git(&dir, &["commit", "--quiet", "-m", &format!("external {n}")]);
        let mut pushed = false;
        for _ in 0..30 {
            let push = repos::git_command(&dir)
                .args(["push", "--quiet", "origin", "HEAD:main"])
                .output()
                .expect("push");
            if push.status.success() {
                pushed = true;
                break;
            }
            repos::git(&dir, &["pull", "--quiet", "--rebase", "origin", "main"]);
        }
        assert!(pushed, "the external pusher never got through");
    }
}
