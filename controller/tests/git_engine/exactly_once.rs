//! Exactly once: a run's commit is found again after a retry or a crash.

use gco_api::WriteMode::Append;
use gco_controller::git::Outcome;

use crate::{change, local::Local, support::repos, write};

#[tokio::test]
async fn append_runs_exactly_once_per_run_id() {
    let repo = Local::seeded(&[("reports/drift.log", "existing line without newline")]);
    let report = |run: &str, text: &str| {
        change("drift", run, vec![write("reports/drift.log", text, Append)])
    };

    let first = repo.committed("main", report("run-1", "report 1\n")).await;
    let repeat = repo
        .commit("main", report("run-1", "report 1\n"))
        .await
        .expect("repeat");
    assert_eq!(repeat, Outcome::AlreadyApplied { commit: first });
    repo.committed("main", report("run-2", "report 2\n")).await;
    assert_eq!(
        repo.show("main", "reports/drift.log").as_deref(),
        Some("existing line without newline\nreport 1\nreport 2\n")
    );
}

#[tokio::test]
async fn a_run_pushed_before_a_crash_is_not_committed_again() {
    let mut repo = Local::empty("r.git");
    let run = || {
        change(
            "drift",
            "uid-1-gen-3",
            vec![write("log.txt", "entry\n", Append)],
        )
    };
    let pushed = repo.committed("main", run()).await;
    // The "process" dies here, before writing status: engine and cache are gone.
    repo.restart();
    repos::seed(
        &repo.bare,
        "main",
        &[("other.txt", "someone else")],
        "unrelated commit",
    );
    assert_eq!(
        repo.engine
            .find_run(&repo.url, "main", &Default::default(), &run().run)
            .await
            .expect("find"),
        Some(pushed.clone())
    );
    let retry = repo.commit("main", run()).await.expect("retry");
    assert_eq!(retry, Outcome::AlreadyApplied { commit: pushed });
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
}
