//! The controller at scale (DESIGN §8), against the real apiserver and git daemon, in one run:
//!
//! - floor: creating N GitCommits and server-side applying a status to each, with no operator;
//! - operator: the same N GitCommits (each exporting M ConfigMaps to files of its own, all on
//!   one branch) created with the controller running, until every one is Ready;
//! - pushes: commits on the branch per object (coalescing);
//! - the controller's peak RSS with N GitCommits and the ConfigMaps watched.
//!
//! `hack/bench-controller.sh [OBJECTS] [CONFIGMAPS_PER_OBJECT] [CONTROLLER FLAGS…]` (defaults
//! 1000, 5 and the chart's flags). The environment shapes the rest:
//! - `GCO_BENCH_REPOSITORIES`, `GCO_BENCH_BRANCHES` (default 1 each): GitCommits spread over
//!   that many branches of that many repositories;
//! - `GCO_BENCH_UNREFERENCED_CONFIGMAPS`, `GCO_BENCH_UNREFERENCED_SECRETS` (default 0): objects
//!   of about 2 KiB each, in a namespace nothing references, that the controller must not hold;
//! - `GCO_BENCH_CONTROLLER_LOG`: a file to keep the controller's log in (debug level), for a
//!   timeline of its runs and push batches.
//!
//! Figures, not a test: budgets are ratios read from the output.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use gco_api::GitCommit;
use gco_tests::{
    controller::ControllerProcess,
    git::{GitDaemon, bare_repo, git},
    scenario::{configmap_fields, gitcommit},
    testenv::{ControlPlane, TEST_MANAGER, install_crds},
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

/// Requests in flight at once from the benchmark itself.
const CLIENT_CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let objects: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let per_object: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    // Anything after the two numbers goes to the controller (`--concurrency 4`).
    let controller_flags: Vec<String> = args.collect();
    let shape = Shape::from_env()?;
    let plane = ControlPlane::start()?;
    let client = plane.client().await?;
    install_crds(&client).await?;
    let policy = json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": "bench-allow-git-daemon" }, "spec": { "allowedSchemes": ["git"] } });
    Api::<gco_api::GitExportPolicy>::all(client.clone())
        .patch(
            "bench-allow-git-daemon",
            &PatchParams::apply(TEST_MANAGER),
            &Patch::Apply(&policy),
        )
        .await?;
    let work = plane.scratch_dir("bench")?;
    let repos = work.join("repos");
    let repositories: Vec<_> = (0..shape.repositories)
        .map(|r| bare_repo(&repos, &format!("bench-{r}.git")))
        .collect();
    let daemon = GitDaemon::start(&repos);
    let targets: Vec<Target> = (0..shape.repositories)
        .flat_map(|r| {
            (0..shape.branches).map(move |b| Target {
                repository: r,
                branch: format!("branch-{b}"),
            })
        })
        .collect();
    let urls: Vec<String> = (0..shape.repositories)
        .map(|r| daemon.url(&format!("bench-{r}.git")))
        .collect();
    let destinations: Vec<(String, String)> = targets
        .iter()
        .map(|t| (urls[t.repository].clone(), t.branch.clone()))
        .collect();
    unreferenced(&plane, &client, &shape).await?;

    let configmaps = objects * per_object;
    eprintln!("creating {configmaps} ConfigMaps…");
    let cm_namespace = plane.namespace(&client, "bench-cm").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &cm_namespace);
    each(0..configmaps, |i| {
        let cms = cms.clone();
        async move {
            let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": format!("cm-{i}") },
                             "data": { "value": format!("{i}\n") } });
            cms.create(&PostParams::default(), &serde_json::from_value(cm)?).await?;
            Ok(())
        }
    })
    .await?;

    // Warm the apiserver's paths for GitCommits (create, server-side apply of status), so the
    // floor does not pay first-request costs the operator run would not.
    let warmup = plane.namespace(&client, "bench-warmup").await?;
    create_gitcommits(
        &client,
        &warmup,
        50,
        per_object,
        &cm_namespace,
        &destinations,
        true,
    )
    .await?;

    eprintln!("floor: {objects} GitCommits created and their status applied, no operator…");
    let floor_namespace = plane.namespace(&client, "bench-floor").await?;
    let floor = create_gitcommits(
        &client,
        &floor_namespace,
        objects,
        per_object,
        &cm_namespace,
        &destinations,
        true,
    )
    .await?;

    eprintln!("operator: {objects} GitCommits with the controller running…");
    let namespace = plane.namespace(&client, "bench").await?;
    let mut flags = vec!["--watch-namespace", namespace.as_str()];
    flags.extend(controller_flags.iter().map(String::as_str));
    let mut controller = ControllerProcess::start(&plane, &work, "bench-controller", &flags)?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    create_gitcommits(
        &client,
        &namespace,
        objects,
        per_object,
        &cm_namespace,
        &destinations,
        false,
    )
    .await?;
    let created = started.elapsed();
    wait_all_ready(&client, &namespace, objects, &controller).await?;
    let operator = started.elapsed();
    let rss = rss_kib(&controller)?;
    controller.kill();
    if let Some(path) = std::env::var_os("GCO_BENCH_CONTROLLER_LOG") {
        std::fs::write(&path, controller.log()).context("keep the controller's log")?;
    }

    let mut commits = 0;
    let mut files = 0;
    let mut per_branch = Vec::new();
    for target in &targets {
        let repo = &repositories[target.repository];
        let on_branch: usize = git(repo, &["rev-list", "--count", &target.branch])
            .trim()
            .parse()?;
        per_branch.push(on_branch);
        commits += on_branch;
        files += git(repo, &["ls-tree", "-r", "--name-only", &target.branch])
            .lines()
            .count();
    }
    println!(
        "objects: {objects} GitCommits on {} branch(es) of {} repositor(y/ies), {configmaps} ConfigMaps referenced and watched",
        shape.branches, shape.repositories
    );
    if shape.unreferenced_configmaps + shape.unreferenced_secrets > 0 {
        println!(
            "unreferenced: {} ConfigMaps and {} Secrets of ~2 KiB in a namespace nothing references",
            shape.unreferenced_configmaps, shape.unreferenced_secrets
        );
    }
    println!(
        "floor (create + status, no operator): {:>8.2} s",
        floor.as_secs_f64()
    );
    println!(
        "operator (create → all Ready):        {:>8.2} s   (creating alone took {:.2} s)",
        operator.as_secs_f64(),
        created.as_secs_f64()
    );
    println!(
        "ratio operator / floor:               {:>8.2}   (budget ≤ 3)",
        operator.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "commits on the branch:                {commits:>8}   ({:.1} objects per push; budget ≥ 10)",
        objects as f64 / commits.max(1) as f64
    );
    if targets.len() > 1 {
        println!("pushes per branch:                    {per_branch:?}");
    }
    println!("files on the branch(es):              {files:>8}");
    println!(
        "controller peak RSS:                  {:>8.1} MiB (budget < 64 with 1,000 GitCommits, < 128 with 10,000)",
        rss.peak as f64 / 1024.0
    );
    println!(
        "controller RSS at the end:            {:>8.1} MiB ({:.1} MiB anonymous, {:.1} MiB of files: the binary, its libraries)",
        rss.now as f64 / 1024.0,
        rss.anonymous as f64 / 1024.0,
        rss.files as f64 / 1024.0
    );
    if files != configmaps {
        bail!("expected {configmaps} files on the branch, found {files}");
    }
    Ok(())
}

/// What the environment asks of the run besides its arguments.
struct Shape {
    repositories: usize,
    branches: usize,
    unreferenced_configmaps: usize,
    unreferenced_secrets: usize,
}

impl Shape {
    fn from_env() -> Result<Self> {
        let read = |name: &str, default: usize| -> Result<usize> {
            match std::env::var(name) {
                Ok(value) => value.parse().with_context(|| format!("{name}={value}")),
                Err(_) => Ok(default),
            }
        };
        let shape = Self {
            repositories: read("GCO_BENCH_REPOSITORIES", 1)?,
            branches: read("GCO_BENCH_BRANCHES", 1)?,
            unreferenced_configmaps: read("GCO_BENCH_UNREFERENCED_CONFIGMAPS", 0)?,
            unreferenced_secrets: read("GCO_BENCH_UNREFERENCED_SECRETS", 0)?,
        };
        if shape.repositories == 0 || shape.branches == 0 {
            bail!("GCO_BENCH_REPOSITORIES and GCO_BENCH_BRANCHES must be at least 1");
        }
        Ok(shape)
    }
}

/// A branch of one of the run's repositories.
struct Target {
    repository: usize,
    branch: String,
}

/// Fills a namespace nothing references with ConfigMaps and Secrets of about 2 KiB each: the
/// load a real cluster carries that the controller must neither watch nor hold.
async fn unreferenced(plane: &ControlPlane, client: &Client, shape: &Shape) -> Result<()> {
    if shape.unreferenced_configmaps + shape.unreferenced_secrets == 0 {
        return Ok(());
    }
    eprintln!(
        "creating {} unreferenced ConfigMaps and {} Secrets…",
        shape.unreferenced_configmaps, shape.unreferenced_secrets
    );
    let namespace = plane.namespace(client, "bench-noise").await?;
    let filler = "x".repeat(2000);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    each(0..shape.unreferenced_configmaps, |i| {
        let (cms, filler) = (cms.clone(), filler.clone());
        async move {
            let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": format!("noise-{i}") },
                             "data": { "value": filler } });
            cms.create(&PostParams::default(), &serde_json::from_value(cm)?).await?;
            Ok(())
        }
    })
    .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    each(0..shape.unreferenced_secrets, |i| {
        let (secrets, filler) = (secrets.clone(), filler.clone());
        async move {
            let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": format!("noise-{i}") },
                                 "stringData": { "value": filler } });
            secrets.create(&PostParams::default(), &serde_json::from_value(secret)?).await?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

async fn each<F, Fut>(range: std::ops::Range<usize>, f: F) -> Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    stream::iter(range.map(f))
        .buffer_unordered(CLIENT_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// Creates `count` GitCommits; with `apply_status`, also applies a status to each the way the
/// controller would (the floor). Returns the time taken.
async fn create_gitcommits(
    client: &Client,
    namespace: &str,
    count: usize,
    per_object: usize,
    cm_namespace: &str,
    destinations: &[(String, String)],
    apply_status: bool,
) -> Result<Duration> {
    let api: Api<GitCommit> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    each(0..count, |i| {
        let api = api.clone();
        let references: Vec<Value> = (0..per_object)
            .map(|j| {
                let mut reference = configmap_fields(&format!("cm-{}", i * per_object + j), &format!("gc-{i}/cm-{j}"));
                reference["namespace"] = json!(cm_namespace);
                reference
            })
            .collect();
        let (url, branch) = &destinations[i % destinations.len()];
        let mut object = gitcommit(&format!("gc-{i}"), url, json!({ "resourceReferences": references }));
        object["spec"]["repository"]["branch"] = json!(branch);
        async move {
            let object: GitCommit = serde_json::from_value(object)?;
            api.create(&PostParams::default(), &object).await?;
            if apply_status {
                let status = json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "status": {
                    "observedGeneration": 1, "phase": "Committed", "commitSHA": "0000000000000000000000000000000000000000",
                    "conditions": [{ "type": "Ready", "status": "True", "reason": "Succeeded", "message": "floor",
                                     "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1 }] } });
                api.patch_status(&format!("gc-{i}"), &PatchParams::apply("gco-controller").force(), &Patch::Apply(&status))
                    .await?;
            }
            Ok(())
        }
    })
    .await?;
    Ok(started.elapsed())
}

async fn wait_all_ready(
    client: &Client,
    namespace: &str,
    count: usize,
    controller: &ControllerProcess,
) -> Result<()> {
    let api: Api<GitCommit> = Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let list = api.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|o| {
                o.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .count();
        if ready == count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {ready}/{count} Ready; controller log tail:\n{}",
                tail(&controller.log())
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The controller's resident memory, KiB, from `/proc/<pid>/status`.
struct Rss {
    /// The highest resident set size so far (`VmHWM`).
    peak: u64,
    /// The resident set size now (`VmRSS`), and its anonymous and file-backed parts.
    now: u64,
    anonymous: u64,
    files: u64,
}

fn rss_kib(controller: &ControllerProcess) -> Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", controller.pid()))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in /proc/<pid>/status"))
    };
    Ok(Rss {
        peak: field("VmHWM:")?,
        now: field("VmRSS:")?,
        anonymous: field("RssAnon:")?,
        files: field("RssFile:")?,
    })
}

fn tail(log: &str) -> String {
    log.lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n")
}
