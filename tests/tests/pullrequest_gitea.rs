//! The PullRequest controller end to end against a real forge (Gitea built from the Go module
//! proxy by hack/forge.sh) and the real apiserver, with the controller binary as a process.

use gco_api::{PullRequest, PullRequestState};
use gco_tests::{
    forge::{
        ADMIN, Gitea, create, head_sha, is_ready, number, prs, pull_request, wait, wait_events,
        world,
    },
    git::git,
    scenario::{Scenario, configmap_fields},
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

#[tokio::test]
async fn a_pull_request_is_opened_updated_never_duplicated_and_reopened_after_a_merge() {
    let (mut s, gitea, head) = syncing_app("pr-life").await;

    // Opened: the head branch holds the file, one pull request names it.
    let opened = wait(&s, &gitea, "sync", "opened", |o| {
        is_ready(o, "True", "Succeeded") && number(o).is_some()
    })
    .await;
    let status = opened.status.clone().expect("status");
    assert_eq!(status.head_branch.as_deref(), Some(head.as_str()));
    assert_eq!(status.pull_request_state, Some(PullRequestState::Open));
    assert_eq!(status.export.phase, Some(gco_api::Phase::Created));
    let url = status.pull_request_url.clone().expect("url");
    assert!(url.starts_with(&gitea.origin()), "{url}");
    assert_eq!(
        gitea.branch_tip("gitops", &head).expect("tip"),
        status.head_sha
    );
    assert_eq!(color(&gitea, &head).as_deref(), Some("blue"));
    let open = gitea.pulls("gitops", "open").expect("pulls");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["title"], "Sync config");
    assert_eq!(open[0]["head"]["ref"], head.as_str());
    let first = number(&opened).expect("number");
    let events = wait_events(&s, "PullRequestOpened", 1).await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0].note.as_deref().unwrap_or_default().contains(&url),
        "{:?}",
        events[0].note
    );
    let message = gitea_commit_message(&gitea, &head);
    assert_eq!(
        message.trim(),
        "Changes for PR: Sync config",
        "default commit message"
    );

    // A changed ConfigMap: a new commit on the head branch, the same pull request.
    set_color(&s, "green").await;
    let before = head_sha(&opened);
    let updated = wait(&s, &gitea, "sync", "updated", |o| {
        head_sha(o) != before && is_ready(o, "True", "Succeeded")
    })
    .await;
    assert_eq!(number(&updated), Some(first));
    assert_eq!(color(&gitea, &head).as_deref(), Some("green"));
    assert_eq!(gitea.pulls("gitops", "open").expect("pulls").len(), 1);
    assert!(!wait_events(&s, "PullRequestUpdated", 1).await.is_empty());

    // A new title: the open pull request is edited, not replaced.
    prs(&s)
        .patch(
            "sync",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "pullRequest": { "title": "Sync config v2" } } })),
        )
        .await
        .expect("patch");
    settled(&s, &gitea, "sync", "True", "Succeeded").await;
    let open = gitea.pulls("gitops", "open").expect("pulls");
    assert_eq!(
        (open.len(), open[0]["title"].as_str()),
        (1, Some("Sync config v2"))
    );

    // A restart and a requested reconcile: the open pull request is found, not duplicated.
    s.controllers[0].kill();
    s.start_controller("c2", &[]).expect("controller");
    prs(&s)
        .patch("sync", &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "annotations": { "gco.galos.one/requestedAt": "restart-1" } } })))
        .await
        .expect("request");
    wait(&s, &gitea, "sync", "reconciled after restart", |o| {
        o.status
            .as_ref()
            .and_then(|st| st.export.last_handled_reconcile_at.as_deref())
            == Some("restart-1")
            && is_ready(o, "True", "Succeeded")
    })
    .await;
    assert_eq!(
        gitea.pulls("gitops", "all").expect("pulls").len(),
        1,
        "no duplicate after a restart"
    );

    // Merged through the forge: the next change starts a fresh head branch from the new base
    // and opens a new pull request.
    gitea.merge("gitops", first).expect("merge");
    set_color(&s, "red").await;
    let reopened = wait(&s, &gitea, "sync", "a new pull request", |o| {
        number(o).is_some_and(|n| n != first) && is_ready(o, "True", "Succeeded")
    })
    .await;
    let all = gitea.pulls("gitops", "all").expect("pulls");
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(gitea.pulls("gitops", "open").expect("pulls").len(), 1);
    let main_tip = gitea
        .branch_tip("gitops", "main")
        .expect("main")
        .expect("main tip");
    let head_parent = gitea_parent(&gitea, &head);
    assert_eq!(
        head_parent, main_tip,
        "the new head branch starts from the merged base"
    );
    assert_eq!(color(&gitea, &head).as_deref(), Some("red"));
    assert_eq!(wait_events(&s, "PullRequestOpened", 2).await.len(), 2);
    assert_eq!(
        reopened.status.and_then(|st| st.pull_request_state),
        Some(PullRequestState::Open)
    );

    // The token is nowhere: not in the logs, the events or the status.
    let everything = format!(
        "{}{:?}{}",
        s.logs(),
        s.events("PullRequestOpened").await,
        serde_json::to_string(&prs(&s).get("sync").await.expect("get").status).unwrap_or_default()
    );
    assert!(!everything.contains(&gitea.token), "the forge token leaked");
}

#[tokio::test]
async fn someone_elses_push_to_the_head_branch_is_reported_and_not_overwritten() {
    let (s, gitea, head) = syncing_app("pr-diverged").await;
    wait(&s, &gitea, "sync", "opened", |o| {
        number(o).is_some() && is_ready(o, "True", "Succeeded")
    })
    .await;

    // A human pushes to the head branch.
    let clone = s.work.join("human");
    git(
        &s.work,
        &[
            "clone",
            "-q",
            "--branch",
            &head,
            &gitea.authed_url("gitops"),
            clone.to_str().expect("path"),
        ],
    );
    std::fs::write(clone.join("human.txt"), "mine\n").expect("write");
    git(&clone, &["add", "human.txt"]);
    git(
        &clone,
        &[
            "-c",
            "user.name=Human",
            "-c",
            "user.email=h@example.com",
            "commit",
            "-qm",
            "human change",
        ],
    );
    git(&clone, &["push", "-q", "origin", &head]);
    let theirs = gitea.branch_tip("gitops", &head).expect("tip");

    set_color(&s, "green").await;
    let (_, message) = settled(&s, &gitea, "sync", "False", "HeadBranchDiverged").await;
    assert!(message.contains(&head), "{message}");
    assert_eq!(
        gitea.branch_tip("gitops", &head).expect("tip"),
        theirs,
        "nothing overwritten"
    );
    assert!(!wait_events(&s, "HeadBranchDiverged", 1).await.is_empty());
}

#[tokio::test]
async fn content_equal_to_the_base_opens_no_pull_request() {
    let (mut s, gitea) = world("pr-empty", "gitops").await;
    let readme = gitea
        .file("gitops", "main", "README.md")
        .expect("readme")
        .expect("auto_init README");
    s.start_controller("c1", &[]).expect("controller");
    create(
        &s,
        pull_request(
            "same",
            &gitea.url("gitops"),
            json!({
                "files": [{ "path": "README.md", "content": readme }]
            }),
        ),
    )
    .await;
    let (done, message) = settled(&s, &gitea, "same", "True", "Succeeded").await;
    assert!(message.contains("no pull request"), "{message}");
    assert!(number(&done).is_none());
    assert!(gitea.pulls("gitops", "all").expect("pulls").is_empty());
    // A self-hosted forge without `provider`: a clear condition naming the field.
    let mut unnamed = pull_request(
        "unnamed",
        &gitea.url("gitops"),
        json!({ "files": [{ "path": "x", "content": "y" }] }),
    );
    unnamed["spec"]["repository"]
        .as_object_mut()
        .expect("repository")
        .remove("provider");
    create(&s, unnamed).await;
    let (_, message) = settled(&s, &gitea, "unnamed", "False", "PolicyDenied").await;
    assert!(message.contains("spec.repository.provider"), "{message}");
    assert_eq!(
        gitea
            .branch_tip("gitops", &format!("gco/{}-same", s.namespace))
            .expect("tip"),
        None
    );
}

/// A world `prefix` with repository `gitops`, ConfigMap `app` (color blue), controller `c1`
/// and PullRequest `sync` exporting the ConfigMap to `config/`; and the head branch it uses.
async fn syncing_app(prefix: &str) -> (Scenario, Gitea, String) {
    let (mut s, gitea) = world(prefix, "gitops").await;
    set_color(&s, "blue").await;
    s.start_controller("c1", &[]).expect("controller");
    create(
        &s,
        pull_request(
            "sync",
            &gitea.url("gitops"),
            json!({
                "resourceReferences": [configmap_fields("app", "config/")]
            }),
        ),
    )
    .await;
    let head = format!("gco/{}-sync", s.namespace);
    (s, gitea, head)
}

async fn set_color(s: &Scenario, color: &str) {
    s.put_configmap("app", &[("color", color)])
        .await
        .expect("cm");
}

/// `config/color` on `branch` of `gitops`.
fn color(gitea: &Gitea, branch: &str) -> Option<String> {
    gitea.file("gitops", branch, "config/color").expect("file")
}

/// Waits until `name` is Ready `status` for `reason`; returns it and its status message.
async fn settled(
    s: &Scenario,
    gitea: &Gitea,
    name: &str,
    status: &str,
    reason: &str,
) -> (PullRequest, String) {
    let object = wait(s, gitea, name, reason, |o| is_ready(o, status, reason)).await;
    let message = object
        .status
        .as_ref()
        .and_then(|st| st.export.message.clone())
        .unwrap_or_default();
    (object, message)
}

/// The subject of the tip commit of `branch`.
fn gitea_commit_message(gitea: &Gitea, branch: &str) -> String {
    tip_commit(gitea, branch)["commit"]["message"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The first parent of the tip commit of `branch`.
fn gitea_parent(gitea: &Gitea, branch: &str) -> String {
    tip_commit(gitea, branch)["parents"][0]["sha"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The tip commit of `branch`, as the forge's API describes it.
fn tip_commit(gitea: &Gitea, branch: &str) -> Value {
    let tip = gitea
        .branch_tip("gitops", branch)
        .expect("tip")
        .expect("branch exists");
    let (_, text) = gitea
        .call(
            "GET",
            &format!("/repos/{ADMIN}/gitops/git/commits/{tip}"),
            None,
        )
        .expect("commit");
    serde_json::from_str(&text).expect("json")
}
