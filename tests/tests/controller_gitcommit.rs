//! The GitCommit controller end to end: a real apiserver, a real git server, the controller
//! binary as a process.

use std::time::Duration;

use gco_tests::{
    rbac::{self, Subject},
    scenario::{Scenario, condition, configmap_fields as cm_fields, gitcommit},
};
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn a_configmap_change_makes_exactly_one_commit_and_a_touch_none() {
    let mut s = Scenario::new("change").await.expect("scenario");
    s.put_configmap("app", &[("app.properties", "color=blue\n")])
        .await
        .expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "sync",
        &s.url(),
        json!({ "resourceReferences": [cm_fields("app", "config/")] }),
    ))
    .await
    .expect("create");
    let ready = s
        .wait_ready("sync", "True", Some("Succeeded"))
        .await
        .expect("first run");
    assert_eq!(
        s.file("config/app.properties").as_deref(),
        Some("color=blue\n")
    );
    let status = ready.status.expect("status");
    assert_eq!(status.commit_sha, s.tip(), "status names the pushed commit");
    assert_eq!(s.history().len(), 1);
    assert!(
        s.history()[0].starts_with("sync 20"),
        "placeholder rendered: {:?}",
        s.history()
    );
    assert_eq!(s.events_at_least("CommitPushed", 1).await.len(), 1);

    // A label changes the resourceVersion but not the rendered files: no commit.
    let label = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app", "labels": { "touched": "yes" } } });
    s.configmaps()
        .patch("app", &PatchParams::apply("toucher"), &Patch::Apply(&label))
        .await
        .expect("touch");
    s.wait_gitcommit("sync", "NoChanges run", |o| {
        o.status.as_ref().is_some_and(|st| {
            st.history
                .first()
                .is_some_and(|h| h.result == gco_api::RunResult::NoChanges)
        })
    })
    .await
    .expect("touch handled");
    assert_eq!(
        s.history().len(),
        1,
        "a touch without a change commits nothing"
    );

    s.put_configmap("app", &[("app.properties", "color=green\n")])
        .await
        .expect("change");
    s.wait_gitcommit("sync", "second commit", |o| {
        o.status.as_ref().is_some_and(|st| {
            st.history
                .first()
                .is_some_and(|h| h.result == gco_api::RunResult::Committed)
                && st.history.len() >= 3
        })
    })
    .await
    .expect("change committed");
    assert_eq!(
        s.file("config/app.properties").as_deref(),
        Some("color=green\n")
    );
    assert_eq!(
        s.history().len(),
        2,
        "exactly one new commit: {:?}",
        s.history()
    );
}

#[tokio::test]
async fn a_missing_reference_is_reported_and_recovers_when_created() {
    let mut s = Scenario::new("missing").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "needs-cm",
        &s.url(),
        json!({ "resourceReferences": [cm_fields("later", "later/")] }),
    ))
    .await
    .expect("create");
    let failed = s
        .wait_ready("needs-cm", "False", Some("ReferenceNotFound"))
        .await
        .expect("reported");
    let message = failed.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("later") && message.contains("optional: true"),
        "{message}"
    );
    assert!(s.tip().is_none(), "nothing pushed");

    s.put_configmap("later", &[("k", "v")])
        .await
        .expect("create cm");
    s.wait_ready("needs-cm", "True", Some("Succeeded"))
        .await
        .expect("recovered by the watch");
    assert_eq!(s.file("later/k").as_deref(), Some("v"));

    // Optional references that are missing are skipped with a warning.
    s.create_gitcommit(gitcommit("optional", &s.url(), json!({
        "files": [{ "path": "opt/marker", "content": "x" }],
        "resourceReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "absent", "optional": true, "output": { "path": "opt/absent.yaml" } }]
    })))
    .await
    .expect("create");
    let ready = s.wait_ready("optional", "True", None).await.expect("ready");
    let message = ready.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("skipped") && message.contains("absent"),
        "{message}"
    );
    assert_eq!(s.file("opt/marker").as_deref(), Some("x"));
    assert!(!s.events_at_least("ReferenceSkipped", 1).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_repository_is_retried_then_stalls_and_a_request_revives_it() {
    let mut s = Scenario::new("retry").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    let missing_url = s.url().replace("repo.git", "later.git");
    let mut object = gitcommit(
        "flaky",
        &missing_url,
        json!({ "files": [{ "path": "f", "content": "1" }] }),
    );
    object["metadata"]["annotations"] = json!({ "gco.galos.one/max-retries": "2" });
    s.create_gitcommit(object).await.expect("create");

    let retrying = s
        .wait_gitcommit("flaky", "retrying", |o| {
            condition(o, "Reconciling").is_some_and(|(_, r)| r == "ProgressingWithRetry")
        })
        .await
        .expect("retrying");
    assert_eq!(
        condition(&retrying, "Ready").map(|c| c.0).as_deref(),
        Some("False")
    );
    let stalled = s
        .wait_gitcommit("flaky", "stalled", |o| {
            condition(o, "Stalled").is_some_and(|(st, r)| st == "True" && r == "RetriesExhausted")
        })
        .await
        .expect("stalls after 2 retries");
    let message = stalled.status.and_then(|st| st.message).unwrap_or_default();
    assert!(message.contains("gave up after 3 attempts"), "{message}");

    // The repository appears; a requested reconcile runs again and succeeds.
    gco_tests::git::bare_repo(&s.work.join("repos"), "later.git");
    let request = json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": { "name": "flaky", "annotations": { "gco.galos.one/requestedAt": "now-1" } } });
    s.gitcommits()
        .patch(
            "flaky",
            &PatchParams::apply("requester"),
            &Patch::Apply(&request),
        )
        .await
        .expect("request");
    let ready = s
        .wait_ready("flaky", "True", Some("Succeeded"))
        .await
        .expect("revived");
    assert_eq!(
        ready
            .status
            .as_ref()
            .and_then(|st| st.last_handled_reconcile_at.as_deref()),
        Some("now-1")
    );
    assert!(condition(&ready, "Stalled").is_none() && condition(&ready, "Reconciling").is_none());
}

#[tokio::test]
async fn a_crash_between_push_and_status_write_appends_once() {
    let mut s = Scenario::new("crash").await.expect("scenario");
    s.start_controller("crashing", &["--crash-after-push"])
        .expect("controller");
    s.create_gitcommit(gitcommit(
        "report",
        &s.url(),
        json!({
            "writeMode": "append",
            "files": [{ "path": "reports/drift.log", "content": "drift at $(date +%H:%M:%S)\n" }]
        }),
    ))
    .await
    .expect("create");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(status) = s.controllers[0].exited() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "controller never crashed:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(exit.code(), Some(3), "crashed by the hook:\n{}", s.logs());
    let first = s.file("reports/drift.log").unwrap_or_else(|| {
        panic!(
            "pushed before the crash; history {:?}\n{}",
            s.history(),
            s.logs()
        )
    });
    assert_eq!(s.history().len(), 1);

    s.start_controller("restarted", &[]).expect("controller");
    let ready = s
        .wait_ready("report", "True", Some("Succeeded"))
        .await
        .expect("resumed");
    assert_eq!(s.history().len(), 1, "no second commit: {:?}", s.history());
    assert_eq!(
        s.file("reports/drift.log"),
        Some(first.clone()),
        "appended exactly once"
    );
    assert_eq!(first.matches("drift at").count(), 1);
    assert_eq!(ready.status.and_then(|st| st.commit_sha), s.tip());
}

#[tokio::test]
async fn suspend_stops_everything() {
    let mut s = Scenario::new("suspend").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "paused",
        &s.url(),
        json!({ "suspend": true, "files": [{ "path": "p", "content": "1" }] }),
    ))
    .await
    .expect("create");
    s.create_gitcommit(gitcommit(
        "canary",
        &s.url(),
        json!({ "files": [{ "path": "c", "content": "1" }] }),
    ))
    .await
    .expect("create");
    s.wait_ready("canary", "True", None)
        .await
        .expect("the controller works");
    let paused = s.gitcommits().get("paused").await.expect("get");
    assert!(paused.status.is_none(), "a suspended object is not touched");
    assert!(s.file("p").is_none());
    let resume = json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": { "name": "paused" }, "spec": { "suspend": false } });
    s.gitcommits()
        .patch(
            "paused",
            &PatchParams::apply("resumer"),
            &Patch::Merge(&resume),
        )
        .await
        .expect("resume");
    s.wait_ready("paused", "True", None).await.expect("resumed");
    assert_eq!(s.file("p").as_deref(), Some("1"));
}

#[tokio::test]
async fn a_schedule_runs_again_at_each_tick() {
    let mut s = Scenario::new("schedule").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    // Create it 15-20 s before a minute boundary: the first run is done well before the tick,
    // and the tick comes well within the wait below.
    let second = || jiff::Timestamp::now().as_second().rem_euclid(60);
    while !(40..45).contains(&second()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s.create_gitcommit(gitcommit(
        "minutely",
        &s.url(),
        json!({
            "schedule": "* * * * *",
            "writeMode": "append",
            "files": [{ "path": "ticks.log", "content": "tick $(date +%H:%M)\n" }]
        }),
    ))
    .await
    .expect("create");
    let first = s
        .wait_ready("minutely", "True", None)
        .await
        .expect("first run");
    let next = first
        .status
        .as_ref()
        .and_then(|st| st.next_scheduled_time.clone())
        .expect("nextScheduledTime");
    assert_eq!(next.0.as_second() % 60, 0, "a minute boundary");
    s.wait_gitcommit("minutely", "second tick", |o| {
        o.status.as_ref().is_some_and(|st| st.history.len() >= 2)
    })
    .await
    .expect("ran at the tick");
    let log = s.file("ticks.log").expect("file");
    assert_eq!(log.lines().count(), 2, "{log}");
}

#[tokio::test]
async fn the_controller_runs_with_only_the_permissions_of_config_rbac() {
    let mut s = Scenario::new("rbac").await.expect("scenario");
    let kubectl = |args: &[&str]| {
        let out = s.plane.run_kubectl(args).expect("kubectl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    gco_tests::testenv::ensure_namespace(&s.client, "git-change-operator-system")
        .await
        .expect("ns");
    let rbac = gco_tests::workspace_root().join("config/rbac");
    kubectl(&["apply", "-k", rbac.to_str().expect("utf-8 path")]);
    let token = kubectl(&[
        "create",
        "token",
        "git-change-operator",
        "-n",
        "git-change-operator-system",
        "--duration=1h",
    ]);
    let kubeconfig = s
        .plane
        .token_kubeconfig("gco-sa", &token)
        .expect("kubeconfig");

    s.put_configmap("app", &[("k", "v")]).await.expect("cm");
    put_tls_secret(&s, "CERT-1").await;
    s.start_controller_as(
        "least-privilege",
        &kubeconfig,
        &[
            "--secret-poll-seconds",
            "1",
            "--leader-elect",
            "--leader-election-namespace",
            "git-change-operator-system",
            "--leader-election-id",
            "rbac-test",
        ],
    )
    .expect("controller");
    s.create_gitcommit(gitcommit(
        "limited",
        &s.url(),
        json!({ "resourceReferences": [cm_fields("app", "cm/"), {
            "apiVersion": "v1", "kind": "Secret", "name": "web-tls",
            "strategy": "single-field", "field": "tls.crt", "output": { "path": "tls/tls.crt" }
        }] }),
    ))
    .await
    .expect("create");
    s.wait_ready("limited", "True", Some("Succeeded"))
        .await
        .expect("works with config/rbac alone");
    assert_eq!(s.file("cm/k").as_deref(), Some("v"));
    assert_eq!(s.file("tls/tls.crt").as_deref(), Some("CERT-1"));
    // A rotated certificate is exported again, though the controller may only `get` Secrets.
    put_tls_secret(&s, "CERT-2").await;
    let deadline = tokio::time::Instant::now() + gco_tests::scenario::CONVERGE;
    while s.file("tls/tls.crt").as_deref() != Some("CERT-2") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated Secret was not exported:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The run concludes (status, event) once the push is answered: just after the file.
    let deadline = tokio::time::Instant::now() + gco_tests::scenario::CONVERGE;
    while s.events("CommitPushed").await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events are allowed:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(s.events("CommitPushed").await.len(), 2, "one event per run");
    assert!(
        !s.logs().contains("forbidden"),
        "no forbidden request:\n{}",
        s.logs()
    );
}

/// Referenced kinds are watched in the namespaces specs reference, not cluster-wide: a
/// controller that may list and watch ConfigMaps in one namespace only still sees a change
/// there (a cluster-wide watch would be forbidden and the change missed).
#[tokio::test]
async fn references_are_watched_only_in_the_namespaces_specs_reference() {
    let mut s = Scenario::new("scoped").await.expect("scenario");
    gco_tests::testenv::ensure_namespace(&s.client, "git-change-operator-system")
        .await
        .expect("ns");
    let rbac = gco_tests::workspace_root().join("config/rbac");
    s.plane
        .run_kubectl(&["apply", "-k", rbac.to_str().expect("utf-8 path")])
        .expect("config/rbac");
    let account = "scoped-controller";
    s.plane
        .run_kubectl(&["create", "serviceaccount", account, "-n", &s.namespace])
        .expect("service account");
    let binding = format!("{}-{account}", s.namespace);
    s.plane
        .run_kubectl(&[
            "create",
            "clusterrolebinding",
            &binding,
            "--clusterrole=git-change-operator",
            &format!("--serviceaccount={}:{account}", s.namespace),
        ])
        .expect("the controller's own rights, cluster-wide");
    rbac::grant(
        &s.client,
        &s.namespace,
        "configmaps-here-only",
        json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]),
        Subject::ServiceAccount(account),
    )
    .await
    .expect("ConfigMaps of this namespace only");
    let token = s
        .plane
        .run_kubectl(&[
            "create",
            "token",
            account,
            "-n",
            &s.namespace,
            "--duration=1h",
        ])
        .expect("token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let kubeconfig = s
        .plane
        .token_kubeconfig(&format!("scoped-{}", s.namespace), &token)
        .expect("kubeconfig");

    s.put_configmap("app", &[("k", "v1")]).await.expect("cm");
    s.start_controller_as("scoped", &kubeconfig, &[])
        .expect("controller");
    s.create_gitcommit(gitcommit(
        "scoped",
        &s.url(),
        json!({ "resourceReferences": [cm_fields("app", "cm/")] }),
    ))
    .await
    .expect("create");
    s.wait_ready("scoped", "True", Some("Succeeded"))
        .await
        .expect("exported");
    assert_eq!(s.file("cm/k").as_deref(), Some("v1"));
    s.put_configmap("app", &[("k", "v2")])
        .await
        .expect("change");
    let deadline = tokio::time::Instant::now() + gco_tests::scenario::CONVERGE;
    while s.file("cm/k").as_deref() != Some("v2") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change was not seen through a namespaced watch:\n{}",
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !s.logs().contains("forbidden"),
        "no forbidden request:\n{}",
        s.logs()
    );
}

/// Creates or rotates Secret `web-tls` with `tls.crt` = `certificate`.
async fn put_tls_secret(s: &Scenario, certificate: &str) {
    s.put_secret("web-tls", &[("tls.crt", certificate)])
        .await
        .expect("secret");
}
