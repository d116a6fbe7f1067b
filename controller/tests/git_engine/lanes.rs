//! Push lanes and repository locks exist only while in use: an idle branch's lane and an
//! idle repository's lock are dropped, and the ones recreated later still serialise and
//! coalesce. Locks are per branch: one branch's push never waits for another's.

use futures::future::join_all;
use gco_api::WriteMode::{Append, Overwrite};
use gco_controller::git::{Credentials, InUse};

use crate::{
    change, engine,
    local::{Local, committed},
    support::{daemon::GitDaemon, repos},
    write,
};

/// `count` changes to `branch`, handed in together: on a current-thread runtime the lane's
/// driver cannot start before the last of them is queued, so they make one batch.
async fn round(local: &Local, branch: &str, round: usize, count: usize) -> Vec<String> {
    let commits = (0..count).map(|i| {
        let change = change(
            &format!("obj-{round}-{i}"),
            &format!("run-{round}-{i}"),
            vec![
                write(&format!("objs/{round}-{i}.yaml"), "x: 1\n", Overwrite),
                write("all.log", &format!("{round}-{i}\n"), Append),
            ],
        );
        local.commit(branch, change)
    });
    join_all(commits)
        .await
        .into_iter()
        .map(|outcome| committed(&outcome.expect("commit")))
        .collect()
}

#[tokio::test]
async fn an_idle_lane_is_dropped_and_a_recreated_one_still_coalesces() {
    let local = Local::seeded(&[("README", "seed\n")]);

    let first = round(&local, "main", 1, 5).await;
    assert!(first.iter().all(|c| *c == first[0]), "one push: {first:?}");
    assert_eq!(
        local.engine.in_use(),
        InUse::default(),
        "nothing left once idle"
    );

    let second = round(&local, "main", 2, 5).await;
    assert!(
        second.iter().all(|c| *c == second[0]),
        "one push: {second:?}"
    );
    assert_ne!(first[0], second[0]);
    assert_eq!(local.engine.in_use(), InUse::default());

    let log = local.log("main");
    assert_eq!(log.len(), 3, "seed and one commit per round: {log:?}");
    assert_eq!(log[..2], [second[0].clone(), first[0].clone()]);
    let all = local.show("main", "all.log").expect("all.log");
    assert_eq!(all.lines().count(), 10, "every append landed once: {all}");
}

#[tokio::test]
async fn lanes_of_several_branches_all_drain_and_go() {
    let local = Local::seeded(&[("README", "seed\n")]);
    for branch in ["a", "b", "c"] {
        let commits = round(&local, branch, 1, 3).await;
        assert!(commits.iter().all(|c| *c == commits[0]));
        assert_eq!(local.tip(branch).as_deref(), Some(commits[0].as_str()));
    }
    assert_eq!(local.engine.in_use(), InUse::default());
}

/// Writers that each commit in turn, so the branch's lane keeps emptying (and being dropped)
/// while other writers hand in changes: every change lands exactly once and nothing is left
/// behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lanes_dropped_and_recreated_under_concurrent_writers_lose_nothing() {
    let local = std::sync::Arc::new(Local::seeded(&[("README", "seed\n")]));
    let writers = (0..8).map(|w| {
        let local = std::sync::Arc::clone(&local);
        tokio::spawn(async move {
            for i in 0..6 {
                let change = change(
                    &format!("obj-{w}"),
                    &format!("run-{w}-{i}"),
                    vec![write("all.log", &format!("{w}-{i}\n"), Append)],
                );
                committed(&local.commit("main", change).await.expect("commit"));
            }
        })
    });
    for writer in join_all(writers).await {
        writer.expect("writer");
    }
    assert_eq!(local.engine.in_use(), InUse::default());
    let all = local.show("main", "all.log").expect("all.log");
    let mut lines: Vec<&str> = all.lines().collect();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), 48, "every append landed once: {all}");
    assert_eq!(all.lines().count(), 48);
}

/// Branches of one repository push in parallel: while a push to `held` waits in the server's
/// pre-receive hook, a push to `free` of the same repository (same cache, same engine) lands.
/// With one lock per repository, the second push would wait for the first, which waits for
/// the release that only comes after the second landed: the hook gives up after 60 seconds
/// and the test fails instead of passing late.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_held_on_one_branch_does_not_hold_another_branch() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "two.git");
    repos::seed(&bare, "main", &[("README", "two\n")], "seed");
    let release = root.path().join("release");
    let entered = root.path().join("entered");
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n\
             while read old new ref; do\n\
               [ \"$ref\" = refs/heads/held ] || continue\n\
               touch '{entered}'\n\
               for _ in $(seq 600); do [ -e '{release}' ] && exit 0; sleep 0.1; done\n\
               echo 'held push never released' >&2; exit 1\n\
             done\n",
            entered = entered.display(),
            release = release.display(),
        ),
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("hook mode");
    let daemon = GitDaemon::start(root.path());
    let url = daemon.url("two.git");
    let (_cache, engine) = engine();
    let engine = std::sync::Arc::new(engine);

    // Both branches exist first, so neither push below fetches.
    for branch in ["held", "free"] {
        let warm = change(
            branch,
            &format!("warm-{branch}"),
            vec![write(branch, "0\n", Overwrite)],
        );
        std::fs::write(&release, "").expect("release the warm-up");
        committed(
            &engine
                .commit(&url, branch, &Credentials::anonymous(), warm)
                .await
                .expect("warm-up"),
        );
        std::fs::remove_file(&release).expect("hold again");
        let _ = std::fs::remove_file(&entered);
    }

    let held = {
        let (engine, url) = (std::sync::Arc::clone(&engine), url.clone());
        tokio::spawn(async move {
            let change = change("held", "held-1", vec![write("held", "1\n", Overwrite)]);
            engine
                .commit(&url, "held", &Credentials::anonymous(), change)
                .await
        })
    };
    while !entered.exists() {
        assert!(
            !held.is_finished(),
            "the held push ended before the hook held it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let free = change("free", "free-1", vec![write("free", "1\n", Overwrite)]);
    committed(
        &engine
            .commit(&url, "free", &Credentials::anonymous(), free)
            .await
            .expect("free push"),
    );
    assert!(
        !held.is_finished(),
        "the held push is still held while the free one landed"
    );
    std::fs::write(&release, "").expect("release");
    committed(&held.await.expect("task").expect("held push"));
    assert_eq!(repos::show(&bare, "held", "held").as_deref(), Some("1\n"));
    assert_eq!(repos::show(&bare, "free", "free").as_deref(), Some("1\n"));
    assert_eq!(engine.in_use(), InUse::default());
}
