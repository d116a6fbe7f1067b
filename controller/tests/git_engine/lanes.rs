//! Push lanes and repository locks exist only while in use: an idle branch's lane and an
//! idle repository's lock are dropped, and the ones recreated later still serialise and
//! coalesce.

use futures::future::join_all;
use gco_api::WriteMode::{Append, Overwrite};

use crate::{change, local::Local, local::committed, write};

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
    assert_eq!(local.engine.in_use(), (0, 0), "nothing left once idle");

    let second = round(&local, "main", 2, 5).await;
    assert!(
        second.iter().all(|c| *c == second[0]),
        "one push: {second:?}"
    );
    assert_ne!(first[0], second[0]);
    assert_eq!(local.engine.in_use(), (0, 0));

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
    assert_eq!(local.engine.in_use(), (0, 0));
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
    assert_eq!(local.engine.in_use(), (0, 0));
    let all = local.show("main", "all.log").expect("all.log");
    let mut lines: Vec<&str> = all.lines().collect();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), 48, "every append landed once: {all}");
    assert_eq!(all.lines().count(), 48);
}
