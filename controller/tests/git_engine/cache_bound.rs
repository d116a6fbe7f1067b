//! The cache's bound on disk: repositories cycled through a cache too small for all of them
//! never make it exceed the bound, and one evicted and needed again is cloned again and
//! committed to correctly.

use std::path::{Path, PathBuf};

use gco_api::WriteMode::{Append, Overwrite};
use gco_controller::git::{GitEngine, InUse, LaneMetrics};

use crate::{capture_logs, change, file_url, local::committed, support::repos, write};

/// Bytes of every file under `path`.
fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                disk_usage(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Commits run `run` to `main` of `bare` through `engine`; checks it landed.
async fn commit(engine: &GitEngine, bare: &Path, run: usize) {
    let change = change(
        "obj",
        &format!("run-{run}"),
        vec![
            write("obj.yaml", &format!("run: {run}\n"), Overwrite),
            write("runs.log", &format!("{run}\n"), Append),
        ],
    );
    let outcome = engine
        .commit(&file_url(bare), "main", &Default::default(), change)
        .await
        .expect("commit");
    assert_eq!(repos::tip(bare, "main"), Some(committed(&outcome)));
    assert_eq!(
        repos::show(bare, "main", "obj.yaml").as_deref(),
        Some(format!("run: {run}\n").as_str())
    );
}

/// Repositories cycled through the cache, and how many commits go through it.
const REPOSITORIES: usize = 50;
const RUNS: usize = 2 * REPOSITORIES;

#[tokio::test]
async fn repositories_cycled_through_a_small_cache_never_exceed_its_bound() {
    capture_logs();
    let root = tempfile::tempdir().expect("root");
    // Fifty repositories of the same size, each with a few KiB of history.
    let content = "x".repeat(4096);
    let bares: Vec<PathBuf> = (0..REPOSITORIES)
        .map(|i| {
            let bare = repos::bare_repo(root.path(), &format!("repo-{i}.git"));
            repos::seed(&bare, "main", &[("README", &content)], "seed");
            bare
        })
        .collect();

    // What one cached repository takes after a commit, measured with an unbounded cache.
    let probe = root.path().join("probe");
    commit(
        &GitEngine::with_cache_bound(probe.clone(), u64::MAX, LaneMetrics::default()),
        &bares[0],
        0,
    )
    .await;
    let one = disk_usage(&probe);
    assert!(one > 0);
    // Room for three and a half: three repositories fit, four do not.
    let bound = one * 7 / 2;

    let cache = root.path().join("cache");
    let engine = GitEngine::with_cache_bound(cache.clone(), bound, LaneMetrics::default());
    for run in 1..=RUNS {
        commit(&engine, &bares[run % REPOSITORIES], run).await;
        let used = disk_usage(&cache);
        assert!(
            used <= bound,
            "run {run}: {used} bytes cached, bound {bound}"
        );
        let cached = std::fs::read_dir(&cache).expect("cache").count();
        assert!(cached <= 3, "run {run}: {cached} repositories cached");
    }
    // Every repository was evicted and cloned again; its history is whole.
    for (i, bare) in bares.iter().enumerate() {
        // Run 0 was the probe's, on the first repository.
        let runs: Vec<usize> = (0..=RUNS).filter(|run| run % REPOSITORIES == i).collect();
        let expected: String = runs.iter().map(|run| format!("{run}\n")).collect();
        assert_eq!(repos::show(bare, "main", "runs.log"), Some(expected));
    }
    assert_eq!(engine.in_use(), InUse::default());
}
