//! Many writers on one branch at once: two engines and a human with the git CLI.

use std::{sync::Arc, thread};

use gco_api::WriteMode::{Append, Overwrite};

use crate::{
    change, engine,
    local::committed,
    support::{daemon::GitDaemon, repos},
    write,
};

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
