//! The admission webhook through the real apiserver: every seed example is admitted with its
//! defaults filled in (`prometheus-config-backup` only once a policy allows its Secret key),
//! and a table of hostile specs is refused with messages that name the field, rule and fix.

use gco_tests::{
    admission::{apply_policy, create, eventually, setup},
    fixtures::{install_monitoring_crds, seeds},
};
use serde_json::{Value, json};

#[tokio::test]
async fn every_seed_is_admitted_with_defaults() {
    let (client, namespace) = setup("wh-seeds").await.expect("setup");
    // The examples export the Prometheus operator's kinds: the cluster must serve them.
    install_monitoring_crds(&client)
        .await
        .expect("monitoring CRDs");
    for seed in seeds().expect("seeds") {
        let mut object = seed.value.clone();
        object["metadata"]["namespace"] = json!(namespace);
        if seed.name == "prometheus-config-backup" {
            let refused = create(&client, &namespace, &object, false)
                .await
                .expect_err("refused by default");
            assert!(refused.contains("spec.secrets.allowedFields"), "{refused}");
            assert!(
                refused.contains("spec.resourceReferences[2].field"),
                "{refused}"
            );
            apply_policy(
                &client,
                &namespace,
                "alertmanager",
                json!({"secrets": {"allowedFields": ["alertmanager.yml"]}}),
            )
            .await
            .expect("policy");
            eventually(&client, &namespace, &object, Result::is_ok)
                .await
                .expect("admitted once allowed");
        }
        let stored = create(&client, &namespace, &object, false)
            .await
            .unwrap_or_else(|message| panic!("seed {} refused: {message}", seed.name));
        let spec = &stored.data["spec"];
        assert!(
            spec["commit"]["author"].is_string(),
            "{}: author defaulted: {spec}",
            seed.name
        );
        assert!(
            spec["commit"]["message"].is_string(),
            "{}: message defaulted",
            seed.name
        );
        for reference in spec["resourceReferences"].as_array().into_iter().flatten() {
            assert!(
                reference["namespace"].is_string(),
                "{}: reference namespace defaulted",
                seed.name
            );
        }
        if seed.kind == "PullRequest" {
            assert_eq!(spec["repository"]["provider"], "github", "{}", seed.name);
        }
    }
}

fn base() -> Value {
    json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": "hostile"},
        "spec": {
            "repository": {"url": "https://github.com/company/repo.git", "branch": "main"},
            "commit": {"message": "Sync"},
            "files": [{"path": "clusters/ok.yaml", "content": "ok"}],
            "resourceReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "app", "output": {"path": "clusters/app.yaml"}}]
        }
    })
}

/// The base spec with the field at `pointer` set (created when its parent exists).
fn with(pointer: &str, value: Value) -> Value {
    let mut object = base();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match object.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => panic!("no parent for {pointer}"),
    }
    object
}

fn output_path(path: &str) -> Value {
    with("/spec/resourceReferences/0/output/path", json!(path))
}

fn secret(strategy: &str, field: Option<&str>) -> Value {
    let mut reference = json!({"apiVersion": "v1", "kind": "Secret", "name": "tls", "strategy": strategy, "output": {"path": "clusters/s/"}});
    if let Some(field) = field {
        reference["field"] = json!(field);
        reference["output"]["path"] = json!("clusters/tls.pem");
    }
    with("/spec/resourceReferences/0", reference)
}

#[tokio::test]
async fn hostile_specs_are_refused_with_the_right_message() {
    let (client, namespace) = setup("wh-hostile").await.expect("setup");
    apply_policy(
        &client,
        &namespace,
        "strict",
        json!({
            "repositories": [{"url": "https://github.com/company/*", "branches": ["main", "backups/*"]}],
            "crossNamespaceReferences": false
        }),
    )
    .await
    .expect("policy");
    // The policy reaches the webhook through its watch.
    let dev = with("/spec/repository/branch", json!("dev"));
    eventually(&client, &namespace, &dev, |r| {
        r.as_ref().is_err_and(|m| m.contains("branch-allowed"))
    })
    .await
    .expect("policy effective");
    assert!(
        create(&client, &namespace, &base(), true).await.is_ok(),
        "the base spec is admitted"
    );

    let many_files: Vec<Value> = (0..10_000)
        .map(|i| json!({"path": format!("clusters/f{i}"), "content": ""}))
        .collect();
    let table: Vec<(&str, Value, &[&str])> = vec![
        (
            "parent dir",
            output_path("clusters/../../etc/x"),
            &[
                "spec.resourceReferences[0].output.path",
                "`..`",
                "path-safety",
            ],
        ),
        (
            "absolute",
            output_path("/etc/passwd"),
            &["is absolute", "path-safety"],
        ),
        (".git", output_path(".git/config"), &["`.git`"]),
        (".GIT", output_path("clusters/.GIT/config"), &["`.git`"]),
        (".git.", output_path("clusters/.git./config"), &["`.git`"]),
        ("git~1", output_path("clusters/git~1/config"), &["`.git`"]),
        (
            "zero-width joiner",
            output_path("clusters/.g\u{200d}it/config"),
            &["`.git`"],
        ),
        (
            ".gitmodules",
            output_path("clusters/.gitmodules"),
            &["`.gitmodules`"],
        ),
        (
            "NUL",
            output_path("clusters/a\u{0}b"),
            &["control character"],
        ),
        (
            "5,000 bytes",
            output_path(&format!("clusters/{}", "a/".repeat(2500))),
            &["4096"],
        ),
        (
            "$(rm -rf /)",
            with("/spec/commit/message", json!("$(rm -rf /)")),
            &[
                "spec.commit.message",
                "unsupported placeholder `$(rm -rf /)`",
            ],
        ),
        (
            "backticks",
            with("/spec/files/0/path", json!("clusters/`rm -rf /`")),
            &["spec.files[0].path", "backtick"],
        ),
        (
            "Secret dump",
            secret("dump", None),
            &["secret-strategy", "single-field"],
        ),
        (
            "Secret fields",
            secret("fields", None),
            &["secret-strategy"],
        ),
        (
            "Secret tls.key",
            secret("single-field", Some("tls.key")),
            &["secret-field", "\"tls.key\"", "spec.secrets.allowedFields"],
        ),
        (
            "branch",
            with("/spec/repository/branch", json!("dev")),
            &[
                "spec.repository.branch",
                "branch-allowed",
                "spec.repositories[0].branches",
            ],
        ),
        (
            "repository",
            with(
                "/spec/repository/url",
                json!("https://github.com/evil/repo.git"),
            ),
            &[
                "spec.repository.url",
                "repository-allowed",
                "spec.repositories",
            ],
        ),
        (
            "credentials",
            with(
                "/spec/repository/url",
                json!("https://bob:hunter2@github.com/company/repo.git"),
            ),
            &["repository-credentials", "spec.auth.secretName"],
        ),
        (
            "cross-namespace",
            with("/spec/resourceReferences/0/namespace", json!("kube-system")),
            &["cross-namespace", "crossNamespaceReferences"],
        ),
        (
            "10,000 files",
            with("/spec/files", json!(many_files)),
            &["spec.files", "must have at most 1000 items"],
        ),
    ];
    for (name, object, expected) in table {
        let message = create(&client, &namespace, &object, true)
            .await
            .expect_err(&format!("{name}: should be refused"));
        for needle in expected {
            assert!(
                message.contains(needle),
                "{name}: {needle:?} not in {message}"
            );
        }
        assert!(
            !message.contains("hunter2"),
            "{name}: credentials leaked: {message}"
        );
    }
}

#[tokio::test]
async fn mutating_is_idempotent_through_the_apiserver() {
    let (client, namespace) = setup("wh-idem").await.expect("setup");
    let stored = create(&client, &namespace, &base(), false)
        .await
        .expect("admitted");
    let mut again = serde_json::to_value(&stored).expect("json");
    again["metadata"] = json!({"name": "again"});
    let second = create(&client, &namespace, &again, false)
        .await
        .expect("admitted again");
    assert_eq!(
        stored.data["spec"], second.data["spec"],
        "defaults fill nothing the second time"
    );
}

#[tokio::test]
async fn a_policy_fills_branch_write_mode_branch_prefix_and_author_left_out() {
    let (client, namespace) = setup("wh-defaults").await.expect("setup");
    apply_policy(
        &client,
        &namespace,
        "defaults",
        json!({"defaults": {"branch": "backups", "writeMode": "append",
            "branchPrefix": "bots", "author": "Ops <ops@example.com>"}}),
    )
    .await
    .expect("policy");
    let commit = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": "left-out"},
        "spec": {
            "repository": {"url": "https://github.com/company/repo.git"},
            "files": [{"path": "clusters/ok.yaml", "content": "ok"}]
        }
    });
    // The policy reaches the webhook through a watch, a moment after it is written.
    eventually(&client, &namespace, &commit, |result| {
        result
            .as_ref()
            .is_ok_and(|o| o.data["spec"]["repository"]["branch"] == "backups")
    })
    .await
    .expect("the policy's branch");
    let stored = create(&client, &namespace, &commit, false)
        .await
        .expect("admitted");
    let spec = &stored.data["spec"];
    assert_eq!(spec["repository"]["branch"], "backups", "{spec}");
    assert_eq!(spec["writeMode"], "append", "{spec}");
    assert_eq!(spec["commit"]["author"], "Ops <ops@example.com>", "{spec}");

    let pull_request = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "PullRequest",
        "metadata": {"name": "left-out"},
        "spec": {
            "repository": {"url": "https://github.com/company/repo.git"},
            "pullRequest": {"title": "Sync"},
            "files": [{"path": "clusters/ok.yaml", "content": "ok"}]
        }
    });
    let stored = create(&client, &namespace, &pull_request, false)
        .await
        .expect("admitted");
    let spec = &stored.data["spec"];
    assert_eq!(spec["repository"]["baseBranch"], "backups", "{spec}");
    assert_eq!(spec["pullRequest"]["branchPrefix"], "bots", "{spec}");
    assert_eq!(spec["writeMode"], "append", "{spec}");

    // What the spec says is kept.
    let mut own = commit.clone();
    own["metadata"]["name"] = json!("own");
    own["spec"]["repository"]["branch"] = json!("mine");
    own["spec"]["writeMode"] = json!("overwrite");
    let stored = create(&client, &namespace, &own, false)
        .await
        .expect("admitted");
    assert_eq!(stored.data["spec"]["repository"]["branch"], "mine");
    assert_eq!(stored.data["spec"]["writeMode"], "overwrite");
}
