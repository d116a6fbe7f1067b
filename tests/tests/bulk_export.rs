//! Bulk export and the life of exported files, end to end: selector references across
//! namespaces, prune, and a pruning GitCommit's deletion, on the real apiserver, a real git
//! server and the controller binary.

use std::time::Duration;

use gco_tests::{
    git::git,
    scenario::{CONVERGE, Scenario, configmap_fields, gitcommit},
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::json;

const MANAGER: &str = "bulk-export-test";

/// Waits until `main` has `count` commits; fails with the controller's log otherwise.
async fn wait_commits(s: &Scenario, count: usize) {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s.history().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} commits, not {count}: {:?}\n{}",
            s.history().len(),
            s.history(),
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second commit right behind would be a run that did not coalesce into one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.history().len(), count, "{:?}", s.history());
}

/// `git diff --name-status` of the tip's commit, sorted: `A path`, `M path`, `D path`.
fn last_change(s: &Scenario) -> Vec<String> {
    let mut lines: Vec<String> = git(
        &s.repo,
        &["diff", "--name-status", "--no-renames", "main~1", "main"],
    )
    .lines()
    .map(|l| l.replace('\t', " "))
    .collect();
    lines.sort();
    lines
}

fn files(s: &Scenario) -> Vec<String> {
    git(&s.repo, &["ls-tree", "-r", "--name-only", "main"])
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn put(api: &Api<ConfigMap>, name: &str, labels: serde_json::Value, value: &str) {
    let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": { "name": name, "labels": labels }, "data": { "value": value } });
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&cm),
    )
    .await
    .expect("put configmap");
}

async fn label_namespace(s: &Scenario, name: &str, labels: serde_json::Value) {
    let namespaces: Api<Namespace> = Api::all(s.client.clone());
    let patch = json!({ "metadata": { "labels": labels } });
    namespaces
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("label namespace");
}

#[tokio::test]
async fn a_selector_across_namespaces_exports_every_match_and_follows_each_change() {
    let mut s = Scenario::new("bulk").await.expect("scenario");
    // Three namespaces of this test, found by a label only they carry.
    let mark = s.namespace.clone();
    let mut namespaces = Vec::new();
    for _ in 0..3 {
        let namespace = s.plane.namespace(&s.client, "bulk-src").await.expect("ns");
        label_namespace(&s, &namespace, json!({ "gco-bulk-test": mark })).await;
        namespaces.push(namespace);
    }
    let apis: Vec<Api<ConfigMap>> = namespaces
        .iter()
        .map(|ns| Api::namespaced(s.client.clone(), ns))
        .collect();
    for index in 0..50 {
        let api = &apis[index % 3];
        put(
            api,
            &format!("cm-{index:02}"),
            json!({"backup": "yes"}),
            "v1",
        )
        .await;
    }
    // Not selected: another label value, and a matching label in an unselected namespace.
    put(&apis[0], "not-me", json!({"backup": "no"}), "x").await;
    put(&s.configmaps(), "elsewhere", json!({"backup": "yes"}), "x").await;

    s.start_controller("c1", &[]).expect("controller");
    let reference = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "strategy": "dump",
        "selector": { "matchLabels": { "backup": "yes" } },
        "namespaceSelector": { "matchLabels": { "gco-bulk-test": mark } },
        "output": { "path": "backups/configmaps" }
    });
    s.create_gitcommit(gitcommit(
        "all-configmaps",
        &s.url(),
        json!({ "resourceReferences": [reference], "prune": true }),
    ))
    .await
    .expect("create");
    s.wait_ready("all-configmaps", "True", Some("Succeeded"))
        .await
        .expect("first run");
    wait_commits(&s, 1).await;
    let exported = files(&s);
    assert_eq!(exported.len(), 50, "{exported:?}");
    for index in 0..50 {
        let path = format!(
            "backups/configmaps/{}/cm-{index:02}.yaml",
            namespaces[index % 3]
        );
        assert!(exported.contains(&path), "{path} missing: {exported:?}");
    }
    let dump = s
        .file(&format!("backups/configmaps/{}/cm-00.yaml", namespaces[0]))
        .expect("dump");
    assert!(
        dump.contains("name: cm-00") && dump.contains("value: v1"),
        "{dump}"
    );

    // One ConfigMap appears: one commit adding exactly its file.
    put(&apis[1], "cm-new", json!({"backup": "yes"}), "new").await;
    wait_commits(&s, 2).await;
    assert_eq!(
        last_change(&s),
        [format!(
            "A backups/configmaps/{}/cm-new.yaml",
            namespaces[1]
        )]
    );

    // One changes: one commit changing exactly its file.
    put(&apis[2], "cm-02", json!({"backup": "yes"}), "v2").await;
    wait_commits(&s, 3).await;
    assert_eq!(
        last_change(&s),
        [format!("M backups/configmaps/{}/cm-02.yaml", namespaces[2])]
    );

    // One is deleted: with prune, one commit deleting exactly its file.
    apis[0]
        .delete("cm-03", &DeleteParams::default())
        .await
        .expect("delete");
    wait_commits(&s, 4).await;
    assert_eq!(
        last_change(&s),
        [format!("D backups/configmaps/{}/cm-03.yaml", namespaces[0])]
    );

    // One stops matching (its label changes): its file goes too.
    put(&apis[1], "cm-04", json!({"backup": "no"}), "v1").await;
    wait_commits(&s, 5).await;
    assert_eq!(
        last_change(&s),
        [format!("D backups/configmaps/{}/cm-04.yaml", namespaces[1])]
    );

    // A namespace stops matching: every file of it goes, in one commit.
    label_namespace(&s, &namespaces[2], json!({ "gco-bulk-test": null })).await;
    wait_commits(&s, 6).await;
    let change = last_change(&s);
    assert_eq!(change.len(), 16, "{change:?}");
    assert!(
        change
            .iter()
            .all(|line| line.starts_with(&format!("D backups/configmaps/{}/", namespaces[2]))),
        "{change:?}"
    );
    let status = s
        .gitcommits()
        .get("all-configmaps")
        .await
        .expect("get")
        .status
        .expect("status");
    assert_eq!(
        status.inventory.map(|i| i.files.len()),
        Some(50 + 1 - 1 - 1 - 16),
        "the inventory lists what is on the branch"
    );
}

#[tokio::test]
async fn a_selector_that_matches_nothing_is_not_an_error_and_secrets_cannot_be_selected() {
    let mut s = Scenario::new("bulk-empty").await.expect("scenario");
    s.start_controller("c1", &[]).expect("controller");
    let reference = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "strategy": "dump",
        "selector": { "matchLabels": { "nothing": "here" } },
        "output": { "path": "none/" }
    });
    s.create_gitcommit(gitcommit(
        "empty",
        &s.url(),
        json!({ "resourceReferences": [reference],
                "files": [{ "path": "README", "content": "kept" }] }),
    ))
    .await
    .expect("create");
    let ready = s
        .wait_ready("empty", "True", Some("Succeeded"))
        .await
        .expect("ready");
    let message = ready.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains(
            "spec.resourceReferences[0] (ConfigMap selector nothing=here matched nothing)"
        ),
        "{message}"
    );

    // The CRD refuses a reference with both a name and a selector, naming the rule.
    let both = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "name": "x",
        "selector": { "matchLabels": { "a": "b" } }, "output": { "path": "x/" }
    });
    let refused = s
        .create_gitcommit(gitcommit(
            "both",
            &s.url(),
            json!({ "resourceReferences": [both] }),
        ))
        .await
        .expect_err("both refused");
    assert!(
        refused.to_string().contains("give exactly one of name"),
        "{refused}"
    );

    // A selector over Secrets stalls with the rule and the fix (no webhook here: the
    // controller applies the same rules).
    let secrets = json!({
        "apiVersion": "v1", "kind": "Secret", "strategy": "single-field", "field": "tls.crt",
        "selector": { "matchLabels": { "a": "b" } }, "output": { "path": "certs/" }
    });
    s.create_gitcommit(gitcommit(
        "secrets",
        &s.url(),
        json!({ "resourceReferences": [secrets] }),
    ))
    .await
    .expect("create");
    let refused = s
        .wait_ready("secrets", "False", Some("PolicyDenied"))
        .await
        .expect("refused");
    let message = refused.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("spec.resourceReferences[0].selector")
            && message.contains("name each Secret"),
        "{message}"
    );
}

#[tokio::test]
async fn prune_follows_key_removal_and_path_change_and_deletion_removes_the_files() {
    let mut s = Scenario::new("prune").await.expect("scenario");
    s.put_configmap("app", &[("a", "1"), ("b", "2")])
        .await
        .expect("cm");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "pruned",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "cfg/")], "prune": true,
                "files": [{ "path": "README", "content": "kept" }] }),
    ))
    .await
    .expect("create");
    s.wait_ready("pruned", "True", Some("Succeeded"))
        .await
        .expect("first run");
    wait_commits(&s, 1).await;
    assert_eq!(files(&s), ["README", "cfg/a", "cfg/b"]);
    let finalizers = s
        .gitcommits()
        .get("pruned")
        .await
        .expect("get")
        .metadata
        .finalizers
        .unwrap_or_default();
    assert_eq!(finalizers, ["gco.galos.one/cleanup"]);

    // A key removed: its file goes.
    let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app" },
                     "data": { "a": "1" } });
    s.configmaps()
        .replace(
            "app",
            &Default::default(),
            &serde_json::from_value(cm).expect("cm"),
        )
        .await
        .expect("remove key");
    wait_commits(&s, 2).await;
    assert_eq!(last_change(&s), ["D cfg/b"]);

    // The output path changes: the files move in one commit.
    let patch = json!({ "spec": { "resourceReferences": [configmap_fields("app", "conf/")] } });
    s.gitcommits()
        .patch("pruned", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("move");
    wait_commits(&s, 3).await;
    assert_eq!(last_change(&s), ["A conf/a", "D cfg/a"]);

    // Deleting the GitCommit deletes its files in one last commit; what it did not write stays.
    s.gitcommits()
        .delete("pruned", &DeleteParams::default())
        .await
        .expect("delete");
    wait_commits(&s, 4).await;
    assert_eq!(last_change(&s), ["D README", "D conf/a"]);
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s
        .gitcommits()
        .get_opt("pruned")
        .await
        .expect("get")
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", s.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cleaned = s.events_at_least("CleanedUp", 1).await;
    let note = cleaned[0].note.clone().unwrap_or_default();
    assert!(note.contains("deleted 2 files in commit"), "{note}");
}

#[tokio::test]
async fn a_pruning_gitcommit_is_let_go_when_its_repository_stays_down() {
    let mut s = Scenario::new("prune-down").await.expect("scenario");
    s.put_configmap("app", &[("a", "1")]).await.expect("cm");
    s.start_controller("c1", &["--cleanup-timeout-seconds", "5"])
        .expect("controller");
    s.create_gitcommit(gitcommit(
        "stuck",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "cfg/")], "prune": true }),
    ))
    .await
    .expect("create");
    s.wait_ready("stuck", "True", Some("Succeeded"))
        .await
        .expect("first run");
    // The repository goes away: every fetch fails from now on.
    let moved = s.repo.with_extension("gone");
    std::fs::rename(&s.repo, &moved).expect("hide the repository");
    s.gitcommits()
        .delete("stuck", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s
        .gitcommits()
        .get_opt("stuck")
        .await
        .expect("get")
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", s.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failed = s.events_at_least("CleanupFailed", 1).await;
    assert!(!failed.is_empty(), "a failed cleanup is reported");
    let abandoned = s.events_at_least("CleanupAbandoned", 1).await;
    let note = abandoned[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("within 5s") && note.contains("1 file on branch main"),
        "{note}"
    );
    std::fs::rename(&moved, &s.repo).expect("restore");
    assert_eq!(
        s.file("cfg/a").as_deref(),
        Some("1"),
        "left behind, as said"
    );
}

#[tokio::test]
async fn a_pruning_gitcommit_recreated_without_its_status_recovers_its_files_from_the_branch() {
    let mut s = Scenario::new("prune-recover").await.expect("scenario");
    for name in ["one", "two", "three"] {
        put(&s.configmaps(), name, json!({"backup": "yes"}), name).await;
    }
    s.start_controller("c1", &[]).expect("controller");
    let object = || {
        gitcommit(
            "restored",
            &s.url(),
            json!({ "prune": true, "resourceReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "selector": { "matchLabels": { "backup": "yes" } },
                "output": { "path": "backups" } }],
                "files": [{ "path": "README", "content": "not a backup" }] }),
        )
    };
    s.create_gitcommit(object()).await.expect("create");
    s.wait_ready("restored", "True", Some("Succeeded"))
        .await
        .expect("first run");
    wait_commits(&s, 1).await;
    assert_eq!(
        files(&s),
        [
            "README",
            "backups/one.yaml",
            "backups/three.yaml",
            "backups/two.yaml"
        ]
    );

    // The object goes without its cleanup (as in a cluster lost and rebuilt)...
    let skip = json!({ "metadata": { "annotations": { "gco.galos.one/skip-cleanup": "true" } } });
    s.gitcommits()
        .patch("restored", &PatchParams::default(), &Patch::Merge(&skip))
        .await
        .expect("annotate");
    s.gitcommits()
        .delete("restored", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s
        .gitcommits()
        .get_opt("restored")
        .await
        .expect("get")
        .is_some()
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", s.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(files(&s).len(), 4, "left behind, as asked");
    // ...one of its ConfigMaps goes meanwhile, and it comes back from its manifest, no status.
    s.configmaps()
        .delete("two", &DeleteParams::default())
        .await
        .expect("delete configmap");
    s.create_gitcommit(object()).await.expect("create again");
    s.wait_ready("restored", "True", Some("Succeeded"))
        .await
        .expect("recreated run");
    wait_commits(&s, 2).await;
    assert_eq!(last_change(&s), ["D backups/two.yaml"]);
    let status = s
        .gitcommits()
        .get("restored")
        .await
        .expect("get")
        .status
        .expect("status");
    let inventory = status.inventory.expect("inventory");
    let paths: Vec<&str> = inventory.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["README", "backups/one.yaml", "backups/three.yaml"]);
}
