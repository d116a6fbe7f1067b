//! The cache's bound on disk: repositories cycled through a cache too small for all of them
//! never make it exceed the bound, and one evicted and needed again is cloned again and
//! committed to correctly. A busy branch's repository never holds more than
//! [`MAX_PACKS`] packs, and no batch writes loose objects.

use std::path::{Path, PathBuf};

use gco_api::WriteMode::{Append, Overwrite};
use gco_controller::git::{DEFAULT_CACHE_MAX_BYTES, GitEngine, InUse, LaneMetrics, MAX_PACKS};

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

/// Files under `dir` whose name passes `keep`, at any depth.
fn count_files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                count_files(&entry.path(), keep)
            } else {
                usize::from(keep(&entry.file_name().to_string_lossy()))
            }
        })
        .sum()
}

/// Commits run `run` of `name` to `branch` of `bare`: its own file and a line in its log.
async fn commit_to(engine: &GitEngine, bare: &Path, branch: &str, run: usize) {
    let name = format!("obj-{branch}");
    let change = change(
        &name,
        &format!("{branch}-run-{run}"),
        vec![
            write(
                &format!("{branch}.yaml"),
                &format!("run: {run}\n"),
                Overwrite,
            ),
            write(&format!("{branch}.log"), &format!("{run}\n"), Append),
        ],
    );
    let outcome = engine
        .commit(&file_url(bare), branch, &Default::default(), change)
        .await
        .expect("commit");
    assert_eq!(repos::tip(bare, branch), Some(committed(&outcome)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_branches_keep_their_cached_repository_within_the_pack_bound() {
    capture_logs();
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "busy.git");
    for branch in ["main", "other"] {
        repos::seed(&bare, branch, &[("README", "seed\n")], "seed");
    }
    let cache = root.path().join("cache");
    let engine = GitEngine::with_cache_bound(
        cache.clone(),
        DEFAULT_CACHE_MAX_BYTES,
        LaneMetrics::default(),
    );
    // Two branches of one repository, each committing as fast as it can, their batches
    // overlapping at times (that the repository goes only once its last user lets it go is
    // shown deterministically by the unit tests of `git/cache.rs`).
    let runs = MAX_PACKS + 8;
    let busy = |branch: &'static str| {
        let (engine, bare, cache) = (engine.clone(), bare.clone(), cache.clone());
        tokio::spawn(async move {
            let mut packs = Vec::new();
            for run in 1..=runs {
                commit_to(&engine, &bare, branch, run).await;
                packs.push(count_files(&cache, &|name| name.ends_with(".pack")));
                // Loose objects live in two-hex-digit folders under objects/.
                let loose = count_files(&cache, &|name| name.len() == 38);
                assert_eq!(loose, 0, "{branch} run {run}: loose objects in the cache");
            }
            packs
        })
    };
    let (main, other) = tokio::join!(busy("main"), busy("other"));
    for packs in [main.expect("main"), other.expect("other")] {
        let most = packs.iter().copied().max().unwrap_or_default();
        // The other branch's batch in flight may add its pack before the repository goes.
        assert!(most <= MAX_PACKS + 2, "{most} packs cached: {packs:?}");
        assert!(
            packs.windows(2).any(|w| w[1] < w[0]),
            "the repository was never fetched afresh: {packs:?}"
        );
    }
    for branch in ["main", "other"] {
        let expected: String = (1..=runs).map(|run| format!("{run}\n")).collect();
        assert_eq!(
            repos::show(&bare, branch, &format!("{branch}.log")),
            Some(expected)
        );
    }
    assert_eq!(engine.in_use(), InUse::default());
}
