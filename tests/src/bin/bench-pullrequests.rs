//! PullRequests at scale against a real Gitea, in one run: N PullRequests (default 100), each
//! exporting a ConfigMap of its own, with the controller killed (SIGKILL) once half of them are
//! open and a new one started. Reports the time until all are Ready, that exactly N pull
//! requests exist (no duplicate after the restart), and the forge API requests per
//! PullRequest (`gco_forge_requests_total` of both controllers).
//!
//! `hack/bench-pullrequests.sh [PULL_REQUESTS]`. Figures, not a test.

use std::{
    collections::{BTreeMap, HashSet},
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use gco_tests::{
    forge::{create, is_ready, prs, pull_request, world},
    http_client::plain,
    procs::free_port,
    scenario::configmap_fields,
};
use kube::api::ListParams;
use serde_json::json;

const REPO: &str = "bench";

#[tokio::main]
async fn main() -> Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100);
    let (mut s, gitea) = world("bench-pr", REPO).await;
    for i in 0..count {
        s.put_configmap(&format!("app-{i}"), &[("value", &format!("{i}\n"))])
            .await?;
        create(
            &s,
            pull_request(
                &format!("pr-{i}"),
                &gitea.url(REPO),
                json!({ "resourceReferences": [configmap_fields(&format!("app-{i}"), &format!("apps/app-{i}/"))] }),
            ),
        )
        .await;
    }

    let first: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let started = Instant::now();
    s.start_controller("c1", &["--metrics-addr", &first.to_string()])?;
    let half = count.div_ceil(2);
    wait_ready(&s, half, Duration::from_secs(600)).await?;
    let before_restart = forge_requests(first).await;
    let ready_at_kill = ready_count(&s).await?;
    s.controllers[0].kill();
    let second: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    s.start_controller("c2", &["--metrics-addr", &second.to_string()])?;
    wait_ready(&s, count, Duration::from_secs(900)).await?;
    let elapsed = started.elapsed();
    let after_restart = forge_requests(second).await;

    let pulls = gitea.pulls(REPO, "all")?;
    let open = pulls.iter().filter(|p| p["state"] == "open").count();
    let heads: HashSet<&str> = pulls
        .iter()
        .filter_map(|p| p["head"]["ref"].as_str())
        .collect();
    let mut requests = before_restart.clone();
    for (operation, n) in &after_restart {
        *requests.entry(operation.clone()).or_default() += n;
    }
    let total: f64 = requests.values().sum();

    println!(
        "pull requests: {count} PullRequests, Gitea on 127.0.0.1, controller killed after {ready_at_kill} were Ready"
    );
    println!(
        "all Ready after:                   {:>8.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "pull requests on the forge:        {:>8}   (open {open}; budget: exactly {count}, no duplicates)",
        pulls.len()
    );
    println!("distinct head branches:            {:>8}", heads.len());
    println!(
        "forge API requests:                {total:>8}   ({:.2} per PullRequest)",
        total / count as f64
    );
    for (operation, n) in &requests {
        println!("  {operation:<32} {n:>8}");
    }
    if pulls.len() != count || open != count || heads.len() != count {
        bail!("expected {count} open pull requests with distinct heads");
    }
    Ok(())
}

async fn ready_count(s: &gco_tests::scenario::Scenario) -> Result<usize> {
    let list = prs(s).list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter(|o| is_ready(o, "True", "Succeeded"))
        .count())
}

async fn wait_ready(
    s: &gco_tests::scenario::Scenario,
    at_least: usize,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let ready = ready_count(s).await?;
        if ready >= at_least {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {ready}/{at_least} Ready; controller logs:\n{}",
                s.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `gco_forge_requests_total` by operation, scraped from a controller's metrics endpoint.
async fn forge_requests(metrics: SocketAddr) -> BTreeMap<String, f64> {
    let answer = plain(metrics, "GET", "/metrics", "").await;
    let mut requests = BTreeMap::new();
    for line in answer
        .body
        .lines()
        .filter(|l| l.starts_with("gco_forge_requests_total{"))
    {
        let operation = line
            .split("operation=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_owned();
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *requests.entry(operation).or_default() += value;
    }
    requests
}
