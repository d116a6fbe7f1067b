//! Deleting a PullRequest against a real Gitea: its pull request is closed and its head
//! branch deleted before the object goes; `keepOnDeletion` keeps both; a cleanup that keeps
//! failing is let go with the skip annotation, and an event says what was left behind.

use std::time::Duration;

use gco_api::PullRequest;
use gco_tests::{
    forge::{Gitea, create, is_ready, number, prs, pull_request, wait, wait_events, world},
    scenario::{CONVERGE, Scenario, configmap_fields},
};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

const REPO: &str = "gitops";

/// A PullRequest `name` exporting ConfigMap `app`, opened on Gitea; its head branch.
async fn opened(s: &Scenario, gitea: &Gitea, name: &str, keep: bool) -> (PullRequest, String) {
    let mut object = pull_request(
        name,
        &gitea.url(REPO),
        json!({ "resourceReferences": [configmap_fields("app", &format!("{name}/"))] }),
    );
    object["spec"]["pullRequest"]["keepOnDeletion"] = json!(keep);
    create(s, object).await;
    let ready = wait(s, gitea, name, "opened", |o| {
        is_ready(o, "True", "Succeeded") && number(o).is_some()
    })
    .await;
    let head = format!("gco/{}-{name}", s.namespace);
    assert!(gitea.branch_tip(REPO, &head).expect("tip").is_some());
    (ready, head)
}

async fn wait_gone(s: &Scenario, name: &str) {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while prs(s).get_opt(name).await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} was not deleted:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn open_heads(gitea: &Gitea) -> Vec<String> {
    gitea
        .pulls(REPO, "open")
        .expect("pulls")
        .iter()
        .filter_map(|p| p["head"]["ref"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn deleting_a_pull_request_closes_it_and_deletes_its_head_branch_unless_kept() {
    let (mut s, gitea) = world("pr-delete", REPO).await;
    s.put_configmap("app", &[("color", "blue")])
        .await
        .expect("cm");
    s.start_controller("c1", &[]).expect("controller");

    let (cleaned, head) = opened(&s, &gitea, "cleaned", false).await;
    assert!(
        cleaned
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "gco.galos.one/cleanup"),
        "the operator holds a finalizer: {:?}",
        cleaned.metadata.finalizers
    );
    let (kept, kept_head) = opened(&s, &gitea, "kept", true).await;
    assert!(
        kept.metadata.finalizers.unwrap_or_default().is_empty(),
        "keepOnDeletion: no finalizer"
    );

    prs(&s)
        .delete("cleaned", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(&s, "cleaned").await;
    assert!(
        !open_heads(&gitea).contains(&head),
        "its pull request is closed"
    );
    assert_eq!(
        gitea.branch_tip(REPO, &head).expect("tip"),
        None,
        "its head branch is gone"
    );
    let cleaned_up = wait_events(&s, "CleanedUp", 1).await;
    let note = cleaned_up[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("closed pull request #") && note.contains(&head),
        "{note}"
    );

    prs(&s)
        .delete("kept", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(&s, "kept").await;
    assert!(
        open_heads(&gitea).contains(&kept_head),
        "keepOnDeletion keeps the pull request open"
    );
    assert!(gitea.branch_tip(REPO, &kept_head).expect("tip").is_some());
}

#[tokio::test]
async fn a_cleanup_that_keeps_failing_is_let_go_with_the_skip_annotation() {
    let (mut s, gitea) = world("pr-stuck", REPO).await;
    s.put_configmap("app", &[("color", "blue")])
        .await
        .expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    let (_, head) = opened(&s, &gitea, "stuck", false).await;

    // The forge now refuses the token: the cleanup fails and the object stays.
    s.put_secret("forge-token", &[("token", "revoked")])
        .await
        .expect("revoke");
    prs(&s)
        .delete("stuck", &DeleteParams::default())
        .await
        .expect("delete");
    let failed = wait_events(&s, "CleanupFailed", 1).await;
    let note = failed[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("gco.galos.one/skip-cleanup"),
        "the event says how to let go: {note}"
    );
    assert!(
        !note.contains("revoked"),
        "no credential in the event: {note}"
    );
    assert!(
        prs(&s).get_opt("stuck").await.expect("get").is_some(),
        "held while it fails"
    );

    let skip = json!({ "metadata": { "annotations": { "gco.galos.one/skip-cleanup": "true" } } });
    prs(&s)
        .patch("stuck", &PatchParams::default(), &Patch::Merge(&skip))
        .await
        .expect("annotate");
    wait_gone(&s, "stuck").await;
    let abandoned = wait_events(&s, "CleanupAbandoned", 1).await;
    let note = abandoned[0].note.clone().unwrap_or_default();
    assert!(
        note.contains(&head),
        "the event names what was left: {note}"
    );
    assert!(
        open_heads(&gitea).contains(&head),
        "left open, as the event says"
    );
}

/// A tenant edits their PullRequest to name another one's head branch, then deletes it: only
/// what their own status recorded is cleaned up; the other pull request and branch stay.
#[tokio::test]
async fn a_deleted_pull_request_never_closes_or_deletes_what_another_one_made() {
    let (mut s, gitea) = world("pr-hijack", REPO).await;
    s.put_configmap("app", &[("color", "blue")])
        .await
        .expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    let (_, victim_head) = opened(&s, &gitea, "victim", false).await;
    opened(&s, &gitea, "hijack", false).await;

    let edit = json!({ "spec": { "pullRequest": { "headBranch": victim_head } } });
    prs(&s)
        .patch("hijack", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .expect("edit");
    prs(&s)
        .delete("hijack", &DeleteParams::default())
        .await
        .expect("delete");
    wait_gone(&s, "hijack").await;

    assert!(
        open_heads(&gitea).contains(&victim_head),
        "the other pull request stays open"
    );
    assert!(
        gitea.branch_tip(REPO, &victim_head).expect("tip").is_some(),
        "its branch stays"
    );
    // Whether its own pull request is closed depends on whether the edit was reconciled first
    // (moving to another head branch forgets the old pull request); the other's never is.
    let note = wait_events(&s, "CleanedUp", 1).await[0]
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        !note.contains(&format!("deleted head branch {victim_head}")),
        "{note}"
    );
}
