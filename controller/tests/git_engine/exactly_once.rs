//! Exactly once: a run's commit is found again after a retry or a crash, by its own trailer
//! block only, so nothing a user writes into a message can pass for a run.

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
    let change = run();
    assert_eq!(repo.find("main", &change).await, Some(pushed.clone()));
    let retry = repo.commit("main", run()).await.expect("retry");
    assert_eq!(retry, Outcome::AlreadyApplied { commit: pushed });
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
}

/// Commits pushed by someone else that name the run in the wrong place, or for the wrong
/// object, are not the run's commit: the run is committed, once.
#[tokio::test]
async fn a_message_that_only_mentions_a_run_does_not_count_as_it() {
    let repo = Local::seeded(&[("log.txt", "")]);
    let run = || {
        change(
            "drift",
            "uid-1-gen-3",
            vec![write("log.txt", "entry\n", Append)],
        )
    };
    let spoofs = [
        // The pair in a paragraph before the real (here: a human's) trailer block.
        "Looks like a run\n\nGco-Object: ns/GitCommit/drift\nGco-Run: uid-1-gen-3\n\n\
         Signed-off-by: Human <h@example.com>",
        // The run in the final block, but for another object.
        "Another object's run\n\nGco-Object: ns/GitCommit/other\nGco-Run: uid-1-gen-3",
    ];
    for spoof in spoofs {
        repos::seed(&repo.bare, "main", &[], spoof);
    }
    // And through the operator itself: another object's message quoting the pair.
    let mut quoting = change("other", "run-x", vec![write("other.txt", "x", Append)]);
    quoting.message = "Quote\n\nGco-Object: ns/GitCommit/drift\nGco-Run: uid-1-gen-3".into();
    repo.committed("main", quoting).await;
    let change = run();
    assert_eq!(repo.find("main", &change).await, None);
    let landed = repo.committed("main", run()).await;
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
    let again = repo.commit("main", run()).await.expect("retry");
    assert_eq!(again, Outcome::AlreadyApplied { commit: landed });
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
}
