//! `kubectl gco migrate --live` against a real apiserver that serves the original Go operator's
//! CRDs: the plugin binary reads the old objects from the cluster and converts them as `-f`
//! does, without what the apiserver set; after the CRDs are replaced in the order of
//! docs/install.md, `kubectl apply` of its output passes the real CRDs' schema and the
//! admission webhook.
//!
//! The control plane of this test binary goes through the states of a migration in order (no
//! CRDs, the old ones, this operator's), so it is one test, in a file of its own: a second test
//! of this binary, or one of a binary that installs the real CRDs, would see them change.

use std::time::{Duration, Instant};

use gco_tests::{
    cli::{CliRun, kubectl_gco},
    testenv::{ControlPlane, TEST_MANAGER, install_crds},
    webhook::{gco_api_resource, register},
    workspace_root,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    runtime::{conditions, wait::await_condition},
};
use serde_json::{Value, json};

/// The old manifests `cli_migrate.rs` converts from a file: a Secret, a GitCommit, a PullRequest.
const FIXTURE: &str = "tests/fixtures/migrate/original-1.2.yaml";

/// A CRD of the original operator, as much as the apiserver needs to store its objects: any
/// spec, any status (a subresource, as the original had).
fn old_crd(kind: &str, plural: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.gco.galos.one")},
        "spec": {
            "group": "gco.galos.one", "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural,
                      "singular": kind.to_lowercase()},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }]
        }
    }))
    .expect("an old CRD")
}

async fn install_old_crd(client: &Client, kind: &str, plural: &str) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = format!("{plural}.gco.galos.one");
    crds.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&old_crd(kind, plural)),
    )
    .await
    .expect("apply the old CRD");
    let established = await_condition(crds, &name, conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established)
        .await
        .expect("the old CRD is Established within 30s")
        .expect("watch the old CRD");
}

/// Deletes the old CRDs (and so their objects), as docs/install.md says, and waits until they
/// are gone.
async fn delete_old_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names = ["gitcommits.gco.galos.one", "pullrequests.gco.galos.one"];
    for name in names {
        crds.delete(name, &DeleteParams::default())
            .await
            .expect("delete the old CRD");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in names {
        while crds.get_opt(name).await.expect("get CRD").is_some() {
            assert!(Instant::now() < deadline, "{name} still exists after 60s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &gco_api_resource(kind))
}

/// The plugin as the admin.
async fn gco(args: &[&str]) -> CliRun {
    kubectl_gco(ControlPlane::shared().kubeconfig(), args)
        .await
        .expect("kubectl-gco runs")
}

/// A run that failed with one error line containing `expected`, and printed nothing.
fn failed_with(run: &CliRun, expected: &str) {
    assert!(!run.status.success(), "{}", run.transcript());
    assert!(run.stdout.is_empty(), "{}", run.transcript());
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.transcript());
    assert!(run.stderr.contains(expected), "{}", run.transcript());
}

/// The converted objects of a run, by (kind, namespace, name).
fn objects(run: &CliRun) -> Vec<((String, String, String), Value)> {
    assert!(run.status.success(), "{}", run.transcript());
    let documents: Vec<Value> = serde_saphyr::from_multiple(&run.stdout).expect("YAML out");
    documents
        .into_iter()
        .map(|o| {
            let key = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let id = (
                key(&o["kind"]),
                key(&o["metadata"]["namespace"]),
                key(&o["metadata"]["name"]),
            );
            (id, o)
        })
        .collect()
}

/// Whether `stored` holds everything of `sent`: the same values, maybe with defaults added.
fn holds(stored: &Value, sent: &Value) -> bool {
    match (stored, sent) {
        (Value::Object(stored), Value::Object(sent)) => sent
            .iter()
            .all(|(k, v)| stored.get(k).is_some_and(|s| holds(s, v))),
        (Value::Array(stored), Value::Array(sent)) => {
            stored.len() == sent.len() && stored.iter().zip(sent).all(|(s, v)| holds(s, v))
        }
        _ => stored == sent,
    }
}

fn find<'a>(
    objects: &'a [((String, String, String), Value)],
    kind: &str,
    namespace: &str,
    name: &str,
) -> &'a Value {
    objects
        .iter()
        .find(|((k, ns, n), _)| k == kind && ns == namespace && n == name)
        .map(|(_, o)| o)
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} in {objects:#?}"))
}

#[tokio::test]
async fn live_migration_reads_the_old_objects_and_its_output_applies_after_the_crds_change() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");

    // No CRDs at all: nothing to read, and the error says so in one line.
    let run = gco(&["migrate", "--live", "-A"]).await;
    failed_with(
        &run,
        "the cluster has no gitcommits.gco.galos.one nor pullrequests.gco.galos.one: nothing \
         to migrate",
    );

    // One old CRD: the other kind is a note, not an error.
    install_old_crd(&client, "GitCommit", "gitcommits").await;
    let run = gco(&["migrate", "--live", "-A"]).await;
    assert!(run.status.success(), "{}", run.transcript());
    assert!(run.stdout.is_empty(), "{}", run.transcript());
    for note in [
        "the cluster has no pullrequests.gco.galos.one",
        "no GitCommits or PullRequests in any namespace",
    ] {
        assert!(run.stderr.contains(note), "{}", run.transcript());
    }
    install_old_crd(&client, "PullRequest", "pullrequests").await;

    // Old objects in two namespaces. Namespace a: applied with kubectl as a user would have
    // (last-applied annotation, managedFields), and a status the old operator wrote.
    let fixture = workspace_root().join(FIXTURE);
    let fixture = fixture.to_string_lossy().into_owned();
    let ns_a = plane.namespace(&client, "old-a").await.expect("namespace");
    let ns_b = plane.namespace(&client, "old-b").await.expect("namespace");
    plane
        .run_kubectl(&["apply", "-n", &ns_a, "-f", &fixture])
        .expect("kubectl apply the old objects");
    api(&client, &ns_a, "GitCommit")
        .patch_status(
            "nightly-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Committed",
                "lastCommitSHA": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}})),
        )
        .await
        .expect("old status");
    // Namespace b: the same old GitCommit created through the API, and one already converted
    // before (this API's shape, which the old CRD stores as it stores anything).
    let old: Vec<Value> = serde_saphyr::from_multiple(
        &std::fs::read_to_string(workspace_root().join(FIXTURE)).expect("fixture"),
    )
    .expect("fixture YAML");
    let old_gitcommit = old
        .iter()
        .find(|o| o["kind"] == "GitCommit")
        .expect("a GitCommit in the fixture");
    let current_spec = json!({
        "repository": {"url": "https://github.com/acme/platform-config.git", "branch": "main"},
        "commit": {"message": "Converted before"},
        "files": [{"path": "clusters/west/README.md", "content": "west\n"}]
    });
    let current = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": "converted-before"}, "spec": current_spec
    });
    for object in [old_gitcommit, &current] {
        let object: DynamicObject = serde_json::from_value(object.clone()).expect("object");
        api(&client, &ns_b, "GitCommit")
            .create(&PostParams::default(), &object)
            .await
            .expect("create in namespace b");
    }

    // What -f makes of the same objects, to compare with.
    let from_file = objects(&gco(&["migrate", "-f", &fixture]).await);
    let expected = |kind: &str, name: &str, namespace: &str| {
        let mut object = find(&from_file, kind, "", name).clone();
        object["metadata"]["namespace"] = json!(namespace);
        object
    };

    // Every namespace.
    let all = gco(&["migrate", "--live", "-A"]).await;
    let live = objects(&all);
    assert_eq!(live.len(), 4, "{}", all.transcript());
    let gitcommit = find(&live, "GitCommit", &ns_a, "nightly-config");
    let pull_request = find(&live, "PullRequest", &ns_a, "propose-config");
    assert_eq!(gitcommit, &expected("GitCommit", "nightly-config", &ns_a));
    assert_eq!(
        pull_request,
        &expected("PullRequest", "propose-config", &ns_a)
    );
    assert_eq!(
        find(&live, "GitCommit", &ns_b, "nightly-config"),
        &expected("GitCommit", "nightly-config", &ns_b)
    );
    // The new shape, field by field, so the comparison above is not of two wrong things.
    let spec = &gitcommit["spec"];
    assert_eq!(
        spec["repository"],
        json!({"url": "https://github.com/acme/platform-config.git", "branch": "main"})
    );
    assert_eq!(spec["commit"]["message"], "Nightly export");
    assert_eq!(spec["auth"], json!({"secretName": "git-token"}));
    assert_eq!(spec["historyLimit"], 5);
    assert_eq!(spec["ttlSecondsAfterFinished"], 3600);
    assert_eq!(
        spec["files"],
        json!([{"path": "clusters/east/README.md", "content": "Exported by git-change-operator\n"}])
    );
    let flags = &spec["resourceReferences"][2];
    assert_eq!(flags["strategy"], "single-field");
    assert_eq!(flags["field"], "feature-flags");
    assert_eq!(flags["output"]["path"], "clusters/east/flags/flags.txt");
    let spec = &pull_request["spec"];
    assert_eq!(spec["repository"]["baseBranch"], "main");
    assert_eq!(spec["pullRequest"]["headBranch"], "gco/propose-config");
    assert_eq!(spec["pullRequest"]["title"], "Sync app-config");
    assert_eq!(
        spec["resourceReferences"][0]["output"]["path"],
        "clusters/east/app-config.yaml"
    );
    // Already this API's shape: the spec as it was, and a note.
    let converted_before = find(&live, "GitCommit", &ns_b, "converted-before");
    assert_eq!(converted_before["spec"], current_spec);
    // Nothing the apiserver, kubectl or the old operator set is carried over.
    for (id, object) in &live {
        let metadata = object["metadata"].as_object().expect("metadata");
        assert!(
            metadata.keys().all(|k| k == "name" || k == "namespace"),
            "{id:?}: {metadata:?}"
        );
        assert!(object.get("status").is_none(), "{id:?}: {object}");
    }
    for server_set in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "generation",
        "managedFields",
        "last-applied-configuration",
        "lastCommitSHA",
    ] {
        assert!(
            !all.stdout.contains(server_set),
            "{server_set}:\n{}",
            all.stdout
        );
    }
    for note in [
        format!("gitcommit/nightly-config in {ns_a}: spec.restAPIs dropped"),
        format!("gitcommit/nightly-config in {ns_b}: spec.restAPIs dropped"),
        format!(
            "gitcommit/nightly-config in {ns_a}: spec.ttlMinutes 60 became ttlSecondsAfterFinished"
        ),
        format!("pullrequest/propose-config in {ns_a}: spec.ttlMinutes dropped"),
        format!("gitcommit/converted-before in {ns_b}: already in this API's shape"),
    ] {
        assert!(all.stderr.contains(&note), "{note}:\n{}", all.transcript());
    }

    // One namespace with -n; without it, the context's (default, which holds none).
    let only_b = objects(&gco(&["migrate", "--live", "-n", &ns_b]).await);
    let mut names: Vec<_> = only_b.iter().map(|(id, _)| id.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("GitCommit".into(), ns_b.clone(), "converted-before".into()),
            ("GitCommit".into(), ns_b.clone(), "nightly-config".into()),
        ]
    );
    let default = gco(&["migrate", "--live"]).await;
    assert!(default.status.success(), "{}", default.transcript());
    assert!(default.stdout.is_empty(), "{}", default.transcript());
    assert!(
        default
            .stderr
            .contains("no GitCommits or PullRequests in namespace default"),
        "{}",
        default.transcript()
    );

    // Someone without list rights is told which right, where, in one line.
    let nobody = plane
        .user_kubeconfig("migrate-nobody", None)
        .expect("kubeconfig");
    let run = kubectl_gco(&nobody, &["migrate", "--live", "-n", &ns_a])
        .await
        .expect("kubectl-gco runs");
    failed_with(
        &run,
        &format!("forbidden: you need list on gitcommits.gco.galos.one in namespace {ns_a}"),
    );
    let run = kubectl_gco(&nobody, &["migrate", "--live", "-A"])
        .await
        .expect("kubectl-gco runs");
    failed_with(
        &run,
        "forbidden: you need list on gitcommits.gco.galos.one in all namespaces",
    );

    // docs/install.md: delete the old CRDs (and objects), install this operator's, apply the
    // converted output. The real CRDs' schema and the webhook take it, and prune nothing.
    delete_old_crds(&client).await;
    install_crds(&client).await.expect("this operator's CRDs");
    register(&client).await.expect("the webhook");
    let dir = tempfile::tempdir().expect("temp dir");
    let converted = dir.path().join("converted.yaml");
    std::fs::write(&converted, &all.stdout).expect("write converted.yaml");
    plane
        .run_kubectl(&["apply", "-f", &converted.to_string_lossy()])
        .expect("kubectl apply -f converted.yaml");
    for ((kind, namespace, name), object) in &live {
        let stored = api(&client, namespace, kind)
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{kind} {namespace}/{name} was not created: {e}"));
        for (field, value) in object["spec"].as_object().expect("spec") {
            let kept = &stored.data["spec"][field];
            assert!(
                holds(kept, value),
                "{kind} {namespace}/{name}: spec.{field} {value} was changed or pruned: {kept}"
            );
        }
    }

    // Once the CRDs are this operator's, a second run finds every object already converted.
    let again = gco(&["migrate", "--live", "-A"]).await;
    let again_objects = objects(&again);
    assert_eq!(again_objects.len(), 4, "{}", again.transcript());
    assert_eq!(
        again.stderr.matches("already in this API's shape").count(),
        4,
        "{}",
        again.transcript()
    );
}
