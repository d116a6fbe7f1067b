//! The conversion, field by field, on hand-written manifests in the shape of the original
//! operator's 1.2.x API.

use serde_json::{Value, json};

use super::{convert::Converted, migrate};

fn old_gitcommit(spec: Value) -> Value {
    json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": "backup", "namespace": "team-a", "uid": "x", "resourceVersion": "7",
                      "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                       "team": "a" } },
        "spec": spec
    })
}

fn converted(manifest: Value) -> (Value, Vec<String>) {
    match super::convert::convert(&manifest) {
        Converted::Object { object, notes } => (object, notes),
        other => panic!("not converted: {other:?}"),
    }
}

#[test]
fn a_gitcommit_keeps_its_meaning_in_the_new_shape() {
    let (object, notes) = converted(old_gitcommit(json!({
        "repository": "https://github.com/acme/config.git",
        "branch": "main",
        "commitMessage": "Backup $(date)",
        "authSecretRef": "git-token",
        "authSecretKey": "token",
        "files": [{ "path": "README.md", "content": "hi", "writeMode": "append" }],
        "resourceRefs": [
            { "apiVersion": "v1", "kind": "ConfigMap", "name": "app", "namespace": "apps",
              "strategy": { "type": "dump", "path": "clusters/a/app.yaml" } },
            { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
              "strategy": { "type": "fields", "path": "clusters/a/app" } },
            { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
              "strategy": { "type": "single-field", "path": "clusters/a/flags",
                            "fieldRef": { "key": "flags", "fileName": "flags.txt" } } },
            { "apiVersion": "v1", "kind": "ConfigMap", "name": "log",
              "strategy": { "type": "single-field", "path": "logs/all.log", "writeMode": "append",
                            "fieldRef": { "key": "line" } } }
        ],
        "maxExecutionHistory": 20,
        "suspend": true,
        "schedule": "0 2 * * *"
    })));
    assert_eq!(
        object,
        json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "backup", "namespace": "team-a", "annotations": { "team": "a" } },
            "spec": {
                "repository": { "url": "https://github.com/acme/config.git", "branch": "main" },
                "commit": { "message": "Backup $(date)" },
                "auth": { "secretName": "git-token" },
                "files": [{ "path": "README.md", "content": "hi", "writeMode": "append" }],
                "resourceReferences": [
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "app", "namespace": "apps",
                      "strategy": "dump", "output": { "path": "clusters/a/app.yaml" } },
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                      "strategy": "fields", "output": { "path": "clusters/a/app/" } },
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "app", "field": "flags",
                      "strategy": "single-field", "output": { "path": "clusters/a/flags/flags.txt" } },
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "log", "field": "line",
                      "strategy": "single-field", "output": { "path": "logs/all.log" },
                      "writeMode": "append" }
                ],
                "schedule": "0 2 * * *",
                "suspend": true,
                "historyLimit": 20
            }
        })
    );
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn what_has_no_equivalent_is_listed() {
    let (object, notes) = converted(old_gitcommit(json!({
        "repository": "https://github.com/acme/config.git",
        "branch": "main",
        "commitMessage": "m",
        "authSecretRef": "git-token",
        "authSecretKey": "pat",
        "restAPIs": [{ "name": "status", "url": "https://api.example.com/status" }],
        "files": [{ "path": "status.txt", "useRestAPIData": true, "restAPIName": "status" },
                  { "path": "kept.txt", "content": "k" }],
        "resourceRefs": [{ "apiVersion": "v1", "kind": "Secret", "name": "db",
                           "output": { "type": "dump", "path": "db.yaml" } }],
        "encryption": { "enabled": false },
        "ttlMinutes": 30
    })));
    let spec = &object["spec"];
    assert_eq!(
        spec["files"],
        json!([{ "path": "kept.txt", "content": "k" }])
    );
    assert_eq!(spec["ttlSecondsAfterFinished"], 1800);
    // `output` is read as 1.2.x's `strategy`.
    assert_eq!(spec["resourceReferences"][0]["output"]["path"], "db.yaml");
    let all = notes.join("\n");
    for expected in [
        "authSecretKey \"pat\"",
        "spec.restAPIs dropped",
        "spec.files[0] (status.txt) dropped",
        "whole Secret",
        "spec.encryption (disabled) dropped",
        "ttlSecondsAfterFinished 1800",
    ] {
        assert!(all.contains(expected), "no {expected:?} in:\n{all}");
    }
}

#[test]
fn a_pull_request_moves_its_branches_and_title() {
    let (object, notes) = converted(json!({
        "apiVersion": "git.galos.one/v1", "kind": "PullRequest",
        "metadata": { "name": "pr" },
        "spec": {
            "repository": "https://git.example.com/acme/config.git",
            "baseBranch": "main", "headBranch": "feature/x",
            "title": "T", "body": "B",
            "authSecretRef": "token",
            "resourceRefs": [
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                  "strategy": { "type": "dump", "path": "" } },
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                  "strategy": { "type": "single-field", "path": "cfg/old.txt",
                                "fieldRef": { "key": "k", "fileName": "new.txt" } } }
            ],
            "schedule": "@every 5m",
            "ttlMinutes": 10
        }
    }));
    assert_eq!(
        object["spec"],
        json!({
            "repository": { "url": "https://git.example.com/acme/config.git", "baseBranch": "main" },
            "pullRequest": { "title": "T", "body": "B", "headBranch": "feature/x" },
            "auth": { "secretName": "token" },
            "resourceReferences": [
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                  "strategy": "dump", "output": { "path": "configmap-app.yaml" } },
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "app", "field": "k",
                  "strategy": "single-field", "output": { "path": "cfg/new.txt" } }
            ]
        })
    );
    let all = notes.join("\n");
    assert!(all.contains("spec.repository.provider"), "{all}");
    assert!(all.contains("@every 5m"), "{all}");
    assert!(all.contains("spec.ttlMinutes dropped"), "{all}");
}

#[test]
fn encryption_is_refused_others_pass_and_lists_are_opened() {
    let encrypted = old_gitcommit(json!({
        "repository": "https://github.com/a/b.git", "branch": "main", "commitMessage": "m",
        "authSecretRef": "s", "encryption": { "enabled": true }
    }));
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" } });
    let new_shape = json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": "n" }, "spec": { "repository": { "url": "https://x/y.git" } } });
    let migration = migrate(&[
        json!({ "apiVersion": "v1", "kind": "List", "items": [encrypted, secret.clone()] }),
        new_shape.clone(),
        Value::Null,
    ]);
    assert_eq!(migration.objects, vec![secret, new_shape]);
    assert_eq!(migration.refused.len(), 1);
    assert_eq!(migration.refused[0].0, "gitcommit/backup in team-a");
    assert!(migration.refused[0].1.contains("clear text"));
}

#[test]
fn nonsense_never_panics() {
    for manifest in [
        json!(null),
        json!("text"),
        json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit" }),
        json!({ "apiVersion": "gco.galos.one/v1", "kind": "PullRequest", "spec": {
            "repository": 3, "resourceRefs": [{ "strategy": { "type": "single-field" } }, 1],
            "files": [null], "ttlMinutes": "x", "schedule": 4 } }),
    ] {
        let _ = migrate(&[manifest]);
    }
}

#[test]
fn a_repository_of_neither_shape_is_refused_not_guessed() {
    for repository in [json!(null), json!(""), json!(3), json!(["https://x/y.git"])] {
        let manifest = old_gitcommit(json!({ "repository": repository, "commitMessage": "m" }));
        let migration = migrate(&[manifest]);
        assert!(migration.objects.is_empty(), "{repository}: {migration:?}");
        assert_eq!(migration.refused.len(), 1, "{repository}");
        assert!(
            migration.refused[0].1.contains("neither a URL"),
            "{repository}"
        );
    }
}

#[test]
fn an_object_in_this_shape_keeps_its_spec_and_loses_what_the_server_set() {
    let spec = json!({ "repository": { "url": "https://github.com/a/b.git", "branch": "main" },
                       "commit": { "message": "m" }, "historyLimit": 3 });
    let mut current = old_gitcommit(spec.clone());
    current["metadata"]["managedFields"] = json!([{ "manager": "kubectl" }]);
    current["metadata"]["creationTimestamp"] = json!("2026-01-02T00:00:00Z");
    current["metadata"]["generation"] = json!(2);
    current["status"] = json!({ "observedGeneration": 2 });
    let migration = migrate(&[current]);
    assert_eq!(
        migration.objects,
        vec![json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "backup", "namespace": "team-a", "annotations": { "team": "a" } },
            "spec": spec
        })]
    );
    assert_eq!(migration.notes.len(), 1);
    assert_eq!(migration.notes[0].0, "gitcommit/backup in team-a");
    assert!(migration.notes[0].1.contains("already in this API's shape"));
}

#[test]
fn a_file_or_the_cluster_one_of_the_two() {
    use clap::Parser as _;

    use crate::args::{Cli, Command};
    let parse = |args: &[&str]| {
        Cli::try_parse_from(["kubectl-gco", "migrate"].iter().chain(args))
            .map_err(|e| e.to_string())
    };
    let neither = parse(&[]).expect_err("no source");
    assert!(
        neither.contains("--filename <FILE>") && neither.contains("--live"),
        "{neither}"
    );
    let both = parse(&["-f", "old.yaml", "--live"]).expect_err("two sources");
    assert!(both.contains("cannot be used with"), "{both}");
    let all_of_a_file = parse(&["-f", "old.yaml", "-A"]).expect_err("-A with a file");
    assert!(
        all_of_a_file.contains("cannot be used with"),
        "{all_of_a_file}"
    );
    let all_alone = parse(&["-A"]).expect_err("-A without --live");
    assert!(all_alone.contains("--live"), "{all_alone}");
    match parse(&["--live", "-A"]).map(|cli| cli.command) {
        Ok(Command::Migrate(args)) => {
            assert!(args.live && args.all_namespaces && args.file.is_none())
        }
        other => panic!("{other:?}"),
    }
    match parse(&["-n", "team-a", "--live"]) {
        Ok(cli) => assert_eq!(cli.cluster.namespace.as_deref(), Some("team-a")),
        other => panic!("{other:?}"),
    }
}
