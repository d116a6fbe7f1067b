//! Commit latency of the git engine against `git http-backend`, versus the git CLI's
//! clone + edit + commit + push on the same server, in one run (budgets in docs/performance.md).
//!
//! `cargo bench -p gco-controller --bench git_commit` (or `hack/bench-git.sh`). Not a timed
//! test: it prints figures and ratios; budgets are checked by reading them.
//! `GCO_BENCH_ITERATIONS` (default 40) and `GCO_BENCH_BASELINE_ITERATIONS` (default 5) tune
//! the sample sizes, `GCO_BENCH_FILES` (default 100,000) the repositories' size. The first
//! commit with an empty cache is measured too, against `git clone --depth 1` + edit + commit +
//! push, on the 50,000-commit repository. Beside each warm figure, the git CLI's push alone of
//! a commit prepared beforehand: the server's share of it.

use std::{
    io::Write as _,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use gco_api::{WriteMode, paths::check_path};
use gco_controller::{
    git::{Author, Change, Credentials, GitEngine, ObjectRef, Outcome, RunId},
    render::PlannedWrite,
};
use gco_tests::git::{
    http::{Auth, GitHttpServer},
    repos,
};

/// Files in every benchmark repository, unless `GCO_BENCH_FILES` says otherwise.
const FILES: usize = 100_000;
/// Objects (files) in one measured change.
const OBJECTS_PER_CHANGE: usize = 10;

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not support.
    let iterations = env_number("GCO_BENCH_ITERATIONS", 40);
    let baseline_iterations = env_number("GCO_BENCH_BASELINE_ITERATIONS", 5);
    let files = env_number("GCO_BENCH_FILES", FILES);
    let root = tempfile::tempdir().expect("temporary folder");
    let histories = [100, 5_000, 50_000];
    for commits in histories {
        let started = Instant::now();
        generate(&root.path().join(format!("r{commits}.git")), commits, files);
        eprintln!(
            "generated {files} files / {commits} commits in {:.1?}",
            started.elapsed()
        );
    }
    let server = GitHttpServer::start(root.path(), Auth::Anonymous, None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut engine_p50 = Vec::new();
    let mut push_p50 = Vec::new();
    println!(
        "\nGit engine: warm commit of a {OBJECTS_PER_CHANGE}-object change, {files} files, smart HTTP (git http-backend);\n\
         the server's share: the git CLI pushing the same change, committed beforehand"
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>14} {:>10}",
        "commits", "p50", "p95", "samples", "CLI push p50", "samples"
    );
    for commits in histories {
        let url = server.url(&format!("r{commits}.git"));
        let samples = runtime.block_on(engine_latencies(&url, iterations));
        let pushes = push_latencies(
            &url,
            &root.path().join(format!("r{commits}.git")),
            iterations,
        );
        let (p50, p95) = (percentile(&samples, 50), percentile(&samples, 95));
        println!(
            "{commits:>10} {:>10} {:>10} {:>10} {:>14} {:>10}",
            ms(p50),
            ms(p95),
            samples.len(),
            ms(percentile(&pushes, 50)),
            pushes.len()
        );
        engine_p50.push((commits, p50));
        push_p50.push((commits, percentile(&pushes, 50)));
    }

    let url = server.url("r50000.git");
    let cold = runtime.block_on(cold_latencies(&url, baseline_iterations));
    let shallow_cli = cli_latencies(&url, baseline_iterations, true);
    println!(
        "\nFirst commit with an empty cache, {files} files, 50000 commits: engine vs git clone --depth 1 + edit + commit + push"
    );
    println!("{:>24} {:>10} {:>10} {:>10}", "", "p50", "p95", "samples");
    for (label, samples) in [
        ("engine, empty cache", &cold),
        ("git CLI, --depth 1", &shallow_cli),
    ] {
        println!(
            "{label:>24} {:>10} {:>10} {:>10}",
            ms(percentile(samples, 50)),
            ms(percentile(samples, 95)),
            samples.len()
        );
    }
    let cold_ratio =
        percentile(&shallow_cli, 50).as_secs_f64() / percentile(&cold, 50).as_secs_f64().max(1e-9);

    let url = server.url("r5000.git");
    let baseline = cli_latencies(&url, baseline_iterations, false);
    let baseline_p50 = percentile(&baseline, 50);
    println!(
        "\nBaseline: git clone + edit {OBJECTS_PER_CHANGE} files + commit + push, 5000 commits"
    );
    println!("{:>10} {:>10} {:>10}", "p50", "p95", "samples");
    println!(
        "{:>10} {:>10} {:>10}",
        ms(baseline_p50),
        ms(percentile(&baseline, 95)),
        baseline.len()
    );

    let p50_of = |figures: &[(usize, Duration)], n: usize| {
        figures
            .iter()
            .find(|(c, _)| *c == n)
            .map_or(0.0, |(_, d)| d.as_secs_f64())
    };
    let ratio = |figures: &[(usize, Duration)], a: usize, b: usize| {
        p50_of(figures, a) / p50_of(figures, b).max(1e-9)
    };
    let speedup = baseline_p50.as_secs_f64() / p50_of(&engine_p50, 5_000).max(1e-9);
    let engine_own = |n: usize| p50_of(&engine_p50, n) - p50_of(&push_p50, n);
    println!("\nRatios (same run):");
    println!("  baseline p50 / engine p50 at 5000 commits = {speedup:.1}x   (budget: >= 20x)");
    println!(
        "  engine p50 50000 commits / 100 commits    = {:.2}    (budget: <= 1.20)",
        ratio(&engine_p50, 50_000, 100)
    );
    println!(
        "  engine p50 50000 commits / 5000 commits   = {:.2}",
        ratio(&engine_p50, 50_000, 5_000)
    );
    println!(
        "  CLI push p50 50000 commits / 100 commits  = {:.2}    (the server's part)",
        ratio(&push_p50, 50_000, 100)
    );
    println!(
        "  engine minus CLI push, 100 / 5000 / 50000 commits = {:.1} / {:.1} / {:.1} ms",
        engine_own(100) * 1e3,
        engine_own(5_000) * 1e3,
        engine_own(50_000) * 1e3
    );
    println!("  git --depth 1 p50 / engine empty-cache p50 = {cold_ratio:.2}x  (50000 commits)");
}

/// `samples` first commits, each by a new engine with an empty cache.
async fn cold_latencies(url: &str, samples: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let cache = tempfile::tempdir().expect("cache");
        let engine = GitEngine::new(cache.path().to_path_buf());
        let started = Instant::now();
        let outcome = engine
            .commit(
                url,
                "main",
                &Credentials::anonymous(),
                change(1_000_000 + i),
            )
            .await;
        latencies.push(started.elapsed());
        assert!(
            matches!(outcome, Ok(Outcome::Committed { .. })),
            "first commit {i}: {outcome:?}"
        );
    }
    latencies
}

/// One warm-up commit (fills the cache), then `iterations` measured commits.
async fn engine_latencies(url: &str, iterations: usize) -> Vec<Duration> {
    let cache = tempfile::tempdir().expect("cache");
    let engine = GitEngine::new(cache.path().to_path_buf());
    let credentials = Credentials::anonymous();
    let commit = change;
    let warm = engine.commit(url, "main", &credentials, commit(0)).await;
    assert!(
        matches!(warm, Ok(Outcome::Committed { .. })),
        "warm-up commit: {warm:?}"
    );
    let shallow = std::fs::read_dir(cache.path())
        .into_iter()
        .flatten()
        .flatten()
        .any(|repo| repo.path().join("shallow").exists());
    let kind = if shallow { "shallow" } else { "a full clone" };
    eprintln!("{url}: the engine's cache is {kind}");
    let mut samples = Vec::with_capacity(iterations);
    for i in 1..=iterations {
        let started = Instant::now();
        let outcome = engine.commit(url, "main", &credentials, commit(i)).await;
        samples.push(started.elapsed());
        assert!(
            matches!(outcome, Ok(Outcome::Committed { .. })),
            "commit {i}: {outcome:?}"
        );
    }
    samples
}

/// The measured change of run `i`: [`OBJECTS_PER_CHANGE`] files rewritten.
fn change(i: usize) -> Change {
    let writes = (0..OBJECTS_PER_CHANGE)
        .map(|o| PlannedWrite {
            path: check_path(&format!("bench/objects/obj-{o}.yaml")).expect("path"),
            content: format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: obj-{o}\ndata:\n  iteration: \"{i}\"\n").into_bytes(),
            mode: WriteMode::Overwrite.into(),
        })
        .collect();
    Change {
        object: ObjectRef {
            namespace: "bench".into(),
            kind: "GitCommit".into(),
            name: "bench".into(),
        },
        run: RunId::new(&format!("bench-{i}")).expect("run id"),
        author: Author::operator(),
        message: format!("bench {i}"),
        writes,
        signing: None,
        at: jiff::Timestamp::now(),
        recover: None,
    }
}

/// What the original operator does per run: a fresh clone, edit, commit, push.
/// With `shallow`, the clone is `--depth 1`.
fn cli_latencies(url: &str, iterations: usize, shallow: bool) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let work = tempfile::tempdir().expect("worktree");
        let started = Instant::now();
        let depth: &[&str] = if shallow { &["--depth", "1"] } else { &[] };
        let clone = [&["clone", "--quiet"][..], depth, &[url, "w"]].concat();
        repos::git(work.path(), &clone);
        let dir = work.path().join("w");
        std::fs::create_dir_all(dir.join("baseline")).expect("mkdir");
        for o in 0..OBJECTS_PER_CHANGE {
            std::fs::write(
                dir.join(format!("baseline/obj-{o}.yaml")),
                format!("iteration: {i}\n"),
            )
            .expect("write");
        }
        repos::git(&dir, &["add", "-A"]);
        repos::git(&dir, &["commit", "--quiet", "-m", &format!("baseline {i}")]);
        repos::git(&dir, &["push", "--quiet", "origin", "HEAD:main"]);
        samples.push(started.elapsed());
    }
    samples
}

/// The server's share of a warm commit: `git push` of the same change (the same ten paths,
/// ten different blobs), committed beforehand (untimed) in a bare clone that shares the
/// server's objects (`--shared`, so it is whole, not shallow: a shallow clone's push makes the
/// server do shallow bookkeeping the engine's does not) and fetches the branch before each
/// commit. A warm engine commit is such a push plus the engine's own work, so the two side by
/// side across history sizes tell what grows on which side.
fn push_latencies(url: &str, server_repo: &Path, iterations: usize) -> Vec<Duration> {
    let work = tempfile::tempdir().expect("push clone");
    let server_repo = server_repo.display().to_string();
    repos::git(
        work.path(),
        &[
            "clone",
            "--quiet",
            "--bare",
            "--shared",
            &server_repo,
            "p.git",
        ],
    );
    let dir = work.path().join("p.git");
    repos::git(&dir, &["remote", "set-url", "origin", url]);
    let index = work.path().join("index");
    let git = |args: &[&str], input: Option<&str>| {
        let mut command = repos::git_command(&dir);
        command
            .env("GIT_INDEX_FILE", &index)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("run git");
        if let Some(input) = input {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write to git");
        }
        let output = child.wait_with_output().expect("git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        git(
            &["fetch", "--quiet", "origin", "+main:refs/heads/main"],
            None,
        );
        git(&["read-tree", "main"], None);
        let mut entries = String::new();
        for write in change(2_000_000 + i).writes {
            let content = String::from_utf8(write.content).expect("utf-8");
            let blob = git(&["hash-object", "-w", "--stdin"], Some(&content));
            entries.push_str(&format!("100644 {blob}\t{}\n", write.path));
        }
        git(&["update-index", "--index-info"], Some(&entries));
        let tree = git(&["write-tree"], None);
        let message = format!("push {i}");
        let commit = git(&["commit-tree", &tree, "-p", "main", "-m", &message], None);
        let started = Instant::now();
        git(
            &[
                "push",
                "--quiet",
                "origin",
                &format!("{commit}:refs/heads/main"),
            ],
            None,
        );
        samples.push(started.elapsed());
    }
    samples
}

/// A bare repository with `files` files and `commits` commits, written by `git fast-import`:
/// the first commit adds every file, each later one changes one file.
fn generate(path: &Path, commits: usize, files: usize) {
    let bare = repos::bare_repo(
        path.parent().expect("parent"),
        &path.file_name().expect("name").to_string_lossy(),
    );
    let mut child = repos::git_command(&bare)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let mut stream = |text: &str| {
        stdin
            .write_all(text.as_bytes())
            .expect("write to fast-import")
    };
    for n in 0..commits {
        let message = format!("commit {n}");
        stream(&format!(
            "commit refs/heads/main\ncommitter Gen <gen@example.com> {} +0000\ndata {}\n{message}\n",
            1_700_000_000 + n,
            message.len() + 1
        ));
        if n == 0 {
            for f in 0..files {
                let content = format!("file {f}\n");
                stream(&format!(
                    "M 100644 inline data/d{:03}/f{f}.txt\ndata {}\n{content}\n",
                    f % 100,
                    content.len()
                ));
            }
        } else {
            let f = n % files;
            let content = format!("file {f} version {n}\n");
            stream(&format!(
                "M 100644 inline data/d{:03}/f{f}.txt\ndata {}\n{content}\n",
                f % 100,
                content.len()
            ));
        }
    }
    drop(stdin);
    let status = child.wait().expect("fast-import");
    assert!(status.success(), "fast-import failed");
    // Packed like a server's repository, not thousands of loose objects.
    repos::git(&bare, &["repack", "-adq"]);
}

fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() * p).div_ceil(100))
        .saturating_sub(1)
        .min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
