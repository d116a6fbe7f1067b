//! The life of exported files, end to end on a real apiserver and git server: appended YAML
//! stays a stream of documents, `status.history` is bounded by `spec.historyLimit`, a one-shot
//! export expires after `spec.ttlSecondsAfterFinished`, and policy defaults apply to objects
//! that reached the controller without the webhook.

use gco_tests::{
    fixtures::seeds,
    scenario::{Scenario, condition, gitcommit},
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// Requests one more run of GitCommit `name` and waits until it has been handled.
async fn run_again(s: &Scenario, name: &str, request: &str) {
    let patch = json!({ "metadata": { "annotations": { "gco.galos.one/requestedAt": request } } });
    s.gitcommits()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("request a run");
    s.wait_gitcommit(name, &format!("run {request} handled"), |o| {
        o.status.as_ref().is_some_and(|st| {
            st.last_handled_reconcile_at.as_deref() == Some(request)
                && condition(o, "Ready").is_some_and(|(s, r)| s == "True" && r == "Succeeded")
        })
    })
    .await
    .expect("run handled");
}

#[tokio::test]
async fn the_drift_detection_seed_run_three_times_appends_three_yaml_documents() {
    let mut s = Scenario::new("append-yaml").await.expect("scenario");
    s.put_configmap("current-config", &[("replicas", "3")])
        .await
        .expect("cm");
    s.put_configmap("expected-config", &[("replicas", "2")])
        .await
        .expect("cm");
    s.put_secret(
        "git-credentials",
        &[("username", "git"), ("password", "unused-by-git-daemon")],
    )
    .await
    .expect("secret");
    // The seed unchanged, except that it pushes to the local git server and reads its two
    // ConfigMaps in this test's namespace instead of `production` and `staging`.
    let seed = seeds()
        .expect("seeds")
        .into_iter()
        .find(|seed| seed.name == "drift-detection")
        .expect("drift-detection seed");
    let mut object = seed.value.clone();
    object["spec"]["repository"]["url"] = json!(s.url());
    for reference in object["spec"]["resourceReferences"]
        .as_array_mut()
        .expect("references")
    {
        reference["namespace"] = json!(s.namespace);
    }
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(object).await.expect("create");
    s.wait_ready("drift-detection", "True", Some("Succeeded"))
        .await
        .expect("first run");
    run_again(&s, "drift-detection", "second").await;
    run_again(&s, "drift-detection", "third").await;
    assert_eq!(s.history().len(), 3, "{:?}", s.history());

    // The dumps are named by the run's day (`$(date +%Y%m%d)`): the files the last commit
    // touched, the same three runs apart unless the test straddles midnight UTC.
    let names = gco_tests::git::git(&s.repo, &["show", "--name-only", "--format=", "main"]);
    let mut dumps = 0;
    for path in names.lines().filter(|p| p.starts_with("snapshots/")) {
        let text = s.file(path).expect("dump on main");
        let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{path} is not a YAML stream: {e}\n{text}"));
        assert_eq!(documents.len(), 3, "{path}:\n{text}");
        for document in &documents {
            assert_eq!(document["kind"], "ConfigMap", "{path}:\n{text}");
        }
        dumps += 1;
    }
    assert_eq!(dumps, 2, "{names}");
    let log = s.file("reports/drift-summary.log").expect("log");
    assert_eq!(
        log.matches("=== Drift Detection Report").count(),
        3,
        "{log}"
    );
    assert!(
        !log.contains("---"),
        "a text append adds no separator:\n{log}"
    );
}

#[tokio::test]
async fn history_is_bounded_by_history_limit_and_a_one_shot_export_expires() {
    let mut s = Scenario::new("history-ttl").await.expect("scenario");
    let files = json!([{ "path": "notes/run.txt", "content": "hello\n" }]);
    // The schema bounds the limit: 101 never reaches the controller.
    let refused = s
        .create_gitcommit(gitcommit(
            "too-long",
            &s.url(),
            json!({ "files": files, "historyLimit": 101 }),
        ))
        .await
        .expect_err("historyLimit 101");
    assert!(refused.to_string().contains("historyLimit"), "{refused}");

    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "short",
        &s.url(),
        json!({ "files": files, "historyLimit": 2 }),
    ))
    .await
    .expect("create");
    s.wait_ready("short", "True", Some("Succeeded"))
        .await
        .expect("first run");
    for request in ["r1", "r2", "r3"] {
        run_again(&s, "short", request).await;
    }
    let status = s.gitcommits().get("short").await.expect("get").status;
    let history = status.expect("status").history;
    assert_eq!(history.len(), 2, "{history:?}");

    // A schedule never finishes: refused with a TTL, by the controller too (no webhook here).
    s.create_gitcommit(gitcommit(
        "scheduled",
        &s.url(),
        json!({ "files": files, "schedule": "@daily", "ttlSecondsAfterFinished": 2 }),
    ))
    .await
    .expect("create");
    let denied = s
        .wait_ready("scheduled", "False", Some("PolicyDenied"))
        .await
        .expect("refused");
    let message = denied.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("spec.ttlSecondsAfterFinished") && message.contains("ttl-with-schedule"),
        "{message}"
    );

    s.create_gitcommit(gitcommit(
        "once",
        &s.url(),
        json!({ "files": [{ "path": "once.txt", "content": "once\n" }], "ttlSecondsAfterFinished": 2 }),
    ))
    .await
    .expect("create");
    let ready = s
        .wait_ready("once", "True", Some("Succeeded"))
        .await
        .expect("ran");
    let finished = ready
        .status
        .and_then(|st| st.last_sync)
        .expect("lastSync")
        .0;
    let deadline = tokio::time::Instant::now() + gco_tests::scenario::CONVERGE;
    while s.gitcommits().get_opt("once").await.expect("get").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not deleted:\n{}",
            s.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let gone = jiff::Timestamp::now();
    assert!(
        gone.duration_since(finished) >= jiff::SignedDuration::from_secs(2),
        "deleted at {gone}, before the 2 s after {finished}"
    );
    assert_eq!(
        s.file("once.txt").as_deref(),
        Some("once\n"),
        "the commit stays"
    );
    let expired = s.events_at_least("Expired", 1).await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert!(
        s.gitcommits()
            .get_opt("short")
            .await
            .expect("get")
            .is_some(),
        "no TTL: kept"
    );
}

#[tokio::test]
async fn without_the_webhook_the_controller_applies_the_policy_defaults() {
    let mut s = Scenario::new("defaults-off").await.expect("scenario");
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": format!("{}-defaults", s.namespace) },
        "spec": {
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": s.namespace } },
            "defaults": { "branch": "backups", "writeMode": "append", "author": "Ops <ops@example.com>" }
        }
    });
    kube::Api::<gco_api::GitExportPolicy>::all(s.client.clone())
        .patch(
            &format!("{}-defaults", s.namespace),
            &PatchParams::apply("test").force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("policy");
    // Started after the policy: the controller judges nothing before its caches hold it.
    s.start_controller("c1", &[]).expect("controller");
    // Created as the webhook never saw it: no branch, write mode or author.
    s.create_gitcommit(json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": "bare" },
        "spec": {
            "repository": { "url": s.url() },
            "files": [{ "path": "log.txt", "content": "run\n" }]
        }
    }))
    .await
    .expect("create");
    s.wait_ready("bare", "True", Some("Succeeded"))
        .await
        .expect("first run");
    run_again(&s, "bare", "second").await;
    let branch = |path: &str| gco_tests::git::show(&s.repo, "backups", path);
    assert_eq!(
        branch("log.txt").as_deref(),
        Some("run\nrun\n"),
        "appended twice on the policy's branch"
    );
    assert_eq!(s.file("log.txt"), None, "nothing on main");
    let author = gco_tests::git::git(&s.repo, &["log", "-1", "--format=%an <%ae>", "backups"]);
    assert_eq!(author.trim(), "Ops <ops@example.com>");
    // The stored spec is left as it was: the defaults are applied, not written back.
    let stored = s.gitcommits().get("bare").await.expect("get");
    assert_eq!(stored.spec.repository.branch, None);
    let policies = kube::Api::<gco_api::GitExportPolicy>::all(s.client.clone());
    policies
        .delete(&format!("{}-defaults", s.namespace), &Default::default())
        .await
        .expect("delete the policy");
}
