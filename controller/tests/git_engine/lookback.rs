//! Exactly once by time: a retried run looks for its commit among every commit since the
//! run's instant, however many others pushed meanwhile, deepening a shallow cache as needed,
//! and never counts a commit older than that instant (see `git/history.rs`).

use std::path::Path;

use gco_api::WriteMode::Append;
use gco_controller::git::{Change, Outcome, RUN_CLOCK_SKEW};
use git2::{Repository, Signature, Time};

use crate::{
    change, engine,
    local::{Local, committed},
    support::{daemon::GitDaemon, repos},
    write,
};

/// The run every test retries: one line appended to `log.txt`.
fn run() -> Change {
    change(
        "drift",
        "uid-1-gen-3",
        vec![write("log.txt", "entry\n", Append)],
    )
}

/// `count` commits by someone else on `main` of `bare`, each keeping the tip's files.
fn pile_on(bare: &Path, count: usize) {
    let repo = Repository::open_bare(bare).expect("open");
    let signature = Signature::now("Outside Dev", "dev@example.com").expect("signature");
    for i in 0..count {
        let tip = repo
            .find_reference("refs/heads/main")
            .and_then(|r| r.peel_to_commit())
            .expect("tip");
        let tree = tip.tree().expect("tree");
        repo.commit(
            Some("refs/heads/main"),
            &signature,
            &signature,
            &format!("someone else's commit {i}"),
            &tree,
            &[&tip],
        )
        .expect("commit");
    }
}

/// A commit on `main` of `bare` with `message`, dated `seconds` after the epoch.
fn commit_dated(bare: &Path, message: &str, seconds: i64) {
    let repo = Repository::open_bare(bare).expect("open");
    let signature =
        Signature::new("Outside Dev", "dev@example.com", &Time::new(seconds, 0)).expect("sig");
    let tip = repo
        .find_reference("refs/heads/main")
        .and_then(|r| r.peel_to_commit())
        .expect("tip");
    let tree = tip.tree().expect("tree");
    repo.commit(
        Some("refs/heads/main"),
        &signature,
        &signature,
        message,
        &tree,
        &[&tip],
    )
    .expect("commit");
}

/// Whether a `shallow` file exists anywhere under `dir`: the cache holds a shallow clone.
fn has_shallow_clone(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            path.file_name().is_some_and(|n| n == "shallow")
                || (path.is_dir() && has_shallow_clone(&path))
        })
}

#[tokio::test]
async fn a_run_followed_by_a_hundred_commits_is_not_committed_twice() {
    let mut repo = Local::seeded(&[("log.txt", "")]);
    let pushed = repo.committed("main", run()).await;
    // The process dies before writing status; meanwhile a busy branch moves on.
    repo.restart();
    pile_on(&repo.bare, 100);
    let change = run();
    let found = repo.find("main", &change).await;
    assert_eq!(found, Some(pushed.clone()));
    let retry = repo.commit("main", run()).await.expect("retry");
    assert_eq!(retry, Outcome::AlreadyApplied { commit: pushed });
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
}

/// Over `git daemon` a new cache's first fetch is shallow (64 commits): the search reaches its
/// edge above the run and deepens it, on the commit path and on the lookup path alike. The
/// history beneath the run is longer than the first deepening, so the cache stays shallow:
/// proof that the run was found in a deepened clone, not in a full one.
#[tokio::test]
async fn a_shallow_cache_is_deepened_until_the_run_is_in_reach() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "busy.git");
    repos::seed(&bare, "main", &[("log.txt", "")], "seed");
    pile_on(&bare, 300);
    let daemon = GitDaemon::start(root.path());
    let url = daemon.url("busy.git");
    let none = Default::default();

    let (_first_cache, first) = engine();
    let pushed = committed(
        &first
            .commit(&url, "main", &none, run())
            .await
            .expect("commit"),
    );
    pile_on(&bare, 100);

    let (cache, restarted) = engine();
    let retry = restarted
        .commit(&url, "main", &none, run())
        .await
        .expect("retry");
    assert_eq!(
        retry,
        Outcome::AlreadyApplied {
            commit: pushed.clone()
        }
    );
    assert!(
        has_shallow_clone(cache.path()),
        "the cache is no shallow clone"
    );
    assert_eq!(
        repos::show(&bare, "main", "log.txt").as_deref(),
        Some("entry\n")
    );

    let (_cache, restarted) = engine();
    let change = run();
    let found = restarted
        .find_object_run(&url, "main", &none, &change.object, &change.run, change.at)
        .await
        .expect("find");
    assert_eq!(found, Some(pushed));
}

/// A commit carrying the run's exact trailer block, but dated well before the run's instant,
/// cannot be the run's commit (someone copied it): the run is committed, once.
#[tokio::test]
async fn a_commit_older_than_the_run_does_not_count_as_it() {
    let repo = Local::seeded(&[("log.txt", "")]);
    let change = run();
    let before = change.at.as_second() - RUN_CLOCK_SKEW.as_secs() - 3600;
    commit_dated(
        &repo.bare,
        "Update drift\n\nGco-Object: ns/GitCommit/drift\nGco-Run: uid-1-gen-3\n",
        before,
    );
    let found = repo.find("main", &change).await;
    assert_eq!(found, None);
    let landed = repo.committed("main", change).await;
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
    let again = repo.commit("main", run()).await.expect("retry");
    assert_eq!(again, Outcome::AlreadyApplied { commit: landed });
    assert_eq!(repo.show("main", "log.txt").as_deref(), Some("entry\n"));
}
