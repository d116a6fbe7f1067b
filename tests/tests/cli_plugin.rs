//! `kubectl gco` driven as a user drives it: the real plugin binary against the local control
//! plane, a controller process and a git server (docs/cli.md).

use std::time::Duration;

use gco_tests::{
    cli::{CliRun, kubectl_gco},
    git::git,
    scenario::{Scenario, configmap_fields, gitcommit},
};
use serde_json::{Value, json};

/// Runs the plugin in the scenario's namespace as the admin.
async fn gco(s: &Scenario, args: &[&str]) -> CliRun {
    let mut all = vec!["-n", s.namespace.as_str()];
    all.extend_from_slice(args);
    kubectl_gco(s.plane.kubeconfig(), &all)
        .await
        .expect("kubectl-gco runs")
}

fn succeeded(run: &CliRun) {
    assert!(run.status.success(), "{}", run.transcript());
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stderr.contains('\u{1b}'),
        "colours only on a terminal: {}",
        run.transcript()
    );
}

/// The cells of the line of a table whose first cell is `first`.
fn table_row(table: &str, first: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| {
            line.split("   ")
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in:\n{table}"))
}

#[tokio::test]
async fn get_reconcile_history_and_events_show_what_the_cluster_holds() {
    let mut s = Scenario::new("cli-get").await.expect("scenario");
    s.put_configmap("app", &[("k", "v1")]).await.expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "app-sync",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "app/")] }),
    ))
    .await
    .expect("create");
    let ready = s
        .wait_ready("app-sync", "True", Some("Succeeded"))
        .await
        .expect("ready");
    let sha = ready.status.and_then(|st| st.commit_sha).expect("a commit");

    let get = gco(&s, &["get", "gitcommits"]).await;
    succeeded(&get);
    let header = get.stdout.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "READY",
        "REASON",
        "SUSPENDED",
        "REPOSITORY",
        "BRANCH/PR",
        "COMMIT",
        "LAST RUN",
        "NEXT RUN",
    ] {
        assert!(header.contains(column), "{column} missing: {}", get.stdout);
    }
    let row = table_row(&get.stdout, "app-sync");
    assert_eq!(row[1..4], ["True", "Succeeded", "False"], "{}", get.stdout);
    assert_eq!(row[4], s.url());
    assert_eq!(row[5], "main");
    assert_eq!(row[6], sha[..7]);
    assert_eq!(
        row.last().map(String::as_str),
        Some("-"),
        "no schedule, no next run"
    );

    // Both kinds, all namespaces: kind-qualified names after the namespace.
    let all = gco(&s, &["get", "-A"]).await;
    succeeded(&all);
    assert!(table_row(&all.stdout, &s.namespace).contains(&"gitcommit/app-sync".to_owned()));

    let json_out = gco(&s, &["get", "gc", "-o", "json"]).await;
    succeeded(&json_out);
    let list: Value = serde_json::from_str(&json_out.stdout).expect("JSON");
    assert_eq!(list["items"][0]["metadata"]["name"], "app-sync");
    assert_eq!(list["items"][0]["status"]["commitSHA"], json!(sha));

    // A change, then a requested run that the controller handles: exit 0 and the commit.
    s.put_configmap("app", &[("k", "v2")]).await.expect("cm");
    let reconcile = gco(
        &s,
        &[
            "reconcile",
            "gitcommit/app-sync",
            "--wait",
            "--timeout",
            "60s",
        ],
    )
    .await;
    succeeded(&reconcile);
    let tip = s.tip().expect("a tip");
    assert!(
        reconcile.stderr.contains(&format!("commit {tip}")),
        "{}",
        reconcile.transcript()
    );
    assert_eq!(s.file("app/k").as_deref(), Some("v2"));

    let history = gco(&s, &["history", "gitcommit/app-sync"]).await;
    succeeded(&history);
    assert!(history.stdout.starts_with("TIME"), "{}", history.stdout);
    assert!(
        history.stdout.contains(&format!("Committed   {sha}")),
        "{}",
        history.stdout
    );

    s.events_at_least("CommitPushed", 1).await;
    let events = gco(&s, &["events", "gc/app-sync"]).await;
    succeeded(&events);
    assert!(events.stdout.contains("CommitPushed"), "{}", events.stdout);
    assert!(
        events
            .stdout
            .lines()
            .next()
            .is_some_and(|l| l.starts_with("LAST SEEN"))
    );

    let missing = gco(&s, &["history", "gitcommit/nope"]).await;
    assert!(!missing.status.success());
    assert!(
        missing.stderr.contains("kubectl gco get gitcommit"),
        "the error says what to do: {}",
        missing.transcript()
    );
}

#[tokio::test]
async fn reconcile_wait_exits_non_zero_on_a_denied_spec() {
    let mut s = Scenario::new("cli-denied").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    // A whole Secret is never exported: the controller stalls it with PolicyDenied (the webhook
    // that would refuse it at admission does not run here).
    s.create_gitcommit(gitcommit(
        "leak",
        &s.url(),
        json!({ "resourceReferences": [{ "apiVersion": "v1", "kind": "Secret", "name": "creds",
                                         "strategy": "dump", "output": { "path": "creds.yaml" } }] }),
    ))
    .await
    .expect("create");
    s.wait_ready("leak", "False", Some("PolicyDenied"))
        .await
        .expect("denied");
    let reconcile = gco(
        &s,
        &["reconcile", "gitcommit/leak", "--wait", "--timeout", "30s"],
    )
    .await;
    assert_eq!(
        reconcile.status.code(),
        Some(1),
        "{}",
        reconcile.transcript()
    );
    assert!(
        reconcile.stderr.contains("failed (PolicyDenied)"),
        "{}",
        reconcile.transcript()
    );
    assert!(s.tip().is_none(), "nothing was pushed");
}

#[tokio::test]
async fn suspend_stops_runs_diff_live_shows_the_change_and_resume_commits_it() {
    let mut s = Scenario::new("cli-suspend").await.expect("scenario");
    s.put_configmap("app", &[("k", "v1")]).await.expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "app-sync",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "app/")] }),
    ))
    .await
    .expect("create");
    s.wait_ready("app-sync", "True", None).await.expect("ready");
    let before = s.tip();

    succeeded(&gco(&s, &["suspend", "gitcommit/app-sync"]).await);
    let get = gco(&s, &["get", "gitcommits"]).await;
    assert_eq!(
        table_row(&get.stdout, "app-sync")[3],
        "True",
        "{}",
        get.stdout
    );
    s.put_configmap("app", &[("k", "v2")]).await.expect("cm");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(s.tip(), before, "a suspended object does not run");
    let refused = gco(&s, &["reconcile", "gitcommit/app-sync"]).await;
    assert!(
        !refused.status.success() && refused.stderr.contains("kubectl gco resume"),
        "{}",
        refused.transcript()
    );

    // The change that waits, read live (as the user) and compared with the branch tip.
    let diff = gco(&s, &["diff", "gitcommit/app-sync", "--live"]).await;
    succeeded(&diff);
    assert!(
        diff.stdout.contains("-v1") && diff.stdout.contains("+v2"),
        "{}",
        diff.stdout
    );
    let render = gco(&s, &["render", "gitcommit/app-sync", "--live"]).await;
    succeeded(&render);
    assert!(
        render
            .stdout
            .starts_with("=== app/k (overwrite, 2 bytes)\nv2"),
        "{}",
        render.stdout
    );

    let resume = gco(
        &s,
        &["resume", "gitcommit/app-sync", "--wait", "--timeout", "60s"],
    )
    .await;
    succeeded(&resume);
    assert_eq!(
        s.file("app/k").as_deref(),
        Some("v2"),
        "{}",
        resume.transcript()
    );
    let diff = gco(&s, &["diff", "gitcommit/app-sync", "--live"]).await;
    assert!(
        diff.stdout.starts_with("no changes against main"),
        "{}",
        diff.stdout
    );
}

#[tokio::test]
async fn trace_finds_the_object_behind_a_file_of_a_coalesced_commit() {
    let mut s = Scenario::new("cli-trace").await.expect("scenario");
    // Made before the controller starts, so their first runs queue on one branch together.
    let names: Vec<String> = (0..8).map(|i| format!("writer-{i}")).collect();
    for name in &names {
        s.create_gitcommit(gitcommit(
            name,
            &s.url(),
            json!({ "files": [{ "path": format!("out/{name}.txt"), "content": name }] }),
        ))
        .await
        .expect("create");
    }
    s.start_controller("c1", &[]).expect("controller");
    for name in &names {
        s.wait_ready(name, "True", None).await.expect("ready");
    }
    // A commit that carries several runs, and a file of it written by a run other than the
    // first it names.
    let log = git(&s.repo, &["log", "--format=%H", "main"]);
    let (commit, file, writer) = log
        .lines()
        .find_map(|sha| {
            let message = git(&s.repo, &["log", "-1", "--format=%B", sha]);
            let objects: Vec<&str> = message
                .lines()
                .filter_map(|l| l.strip_prefix("Gco-Object: "))
                .collect();
            let last = objects.get(1..)?.last()?.rsplit('/').next()?.to_owned();
            Some((sha.to_owned(), format!("out/{last}.txt"), last))
        })
        .unwrap_or_else(|| {
            panic!(
                "no coalesced commit among:\n{}",
                git(&s.repo, &["log", "main"])
            )
        });

    // Events are written just after the status: let every writer's be there.
    s.events_at_least("CommitPushed", names.len()).await;
    let trace = gco(&s, &["trace", &file, "--repo", &s.url()]).await;
    succeeded(&trace);
    let out = &trace.stdout;
    assert!(
        out.contains(&format!("Commit:      {}", &commit[..7])),
        "{out}"
    );
    assert!(out.contains("Coalesced:"), "{out}");
    assert!(
        out.contains(&format!(
            "Object:      gitcommit/{writer} in namespace {}",
            s.namespace
        )),
        "{out}"
    );
    assert_eq!(
        out.matches("Object:").count(),
        1,
        "only the writer of the file: {out}"
    );
    assert!(out.contains("Ready:       True Succeeded"), "{out}");
    assert!(
        out.contains("tests-allow-git-daemon"),
        "the policy that governs it: {out}"
    );
    assert!(out.contains("CommitPushed"), "its last events: {out}");

    let unknown = gco(&s, &["trace", "nowhere.txt", "--repo", &s.url()]).await;
    assert!(!unknown.status.success(), "{}", unknown.transcript());
}
