//! The v1 API against a real kube-apiserver: the CRDs install, every seed example is accepted
//! as documented, invalid specs are refused by the apiserver itself with messages that name the
//! field, and kubectl shows the printer columns and the field docs.

use gco_api::{GitCommit, GitExportPolicy, PullRequest};
use gco_tests::{
    fixtures::seeds,
    testenv::{ControlPlane, TEST_MANAGER, ensure_namespace, install_crds},
};
use kube::{
    Api, Client, Resource,
    api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

async fn setup(prefix: &str) -> (Client, String) {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("admin client");
    install_crds(&client).await.expect("CRDs install");
    let namespace = plane
        .namespace(&client, prefix)
        .await
        .expect("test namespace");
    (client, namespace)
}

fn dynamic<K: Resource<DynamicType = ()>>(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &ApiResource::erase::<K>(&()))
}

#[tokio::test]
async fn crds_install_and_become_established() {
    let client = ControlPlane::shared().client().await.expect("admin client");
    let installed = install_crds(&client)
        .await
        .expect("CRDs install and become Established");
    let mut names: Vec<_> = installed
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "gitcommits.gco.galos.one",
            "gitexportpolicies.gco.galos.one",
            "pullrequests.gco.galos.one"
        ]
    );
    for crd in &installed {
        let versions = &crd.spec.versions;
        assert_eq!(versions.len(), 1);
        assert!(versions[0].served && versions[0].storage);
        let has_status = versions[0]
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some();
        let is_policy = crd.spec.names.kind == "GitExportPolicy";
        assert_eq!(
            has_status, !is_policy,
            "{}: status subresource",
            crd.spec.names.kind
        );
    }
}

#[tokio::test]
async fn every_seed_example_is_accepted_by_server_side_apply_unchanged() {
    let (client, namespace) = setup("seeds").await;
    for seed in seeds().expect("seed fixtures") {
        // Examples without a namespace go to the test namespace, as `kubectl apply -n` would;
        // the one that names its namespace keeps it.
        let target = match seed.namespace() {
            Some(ns) => {
                ensure_namespace(&client, ns).await.expect("seed namespace");
                ns.to_owned()
            }
            None => namespace.clone(),
        };
        let api = match seed.kind.as_str() {
            "GitCommit" => dynamic::<GitCommit>(&client, &target),
            _ => dynamic::<PullRequest>(&client, &target),
        };
        let object: DynamicObject = serde_json::from_value(seed.value.clone()).expect("object");
        let applied = api
            .patch(
                &seed.name,
                &PatchParams::apply(TEST_MANAGER),
                &Patch::Apply(&object),
            )
            .await
            .unwrap_or_else(|e| panic!("seed {} refused: {e}", seed.name));
        // The documented spec comes back intact. The schema fills no branch, base branch,
        // write mode or branch prefix: those are left to a policy's defaults (the webhook's, or
        // the controller's where the webhook is off).
        let spec = applied.data.get("spec").expect("stored spec");
        let stored = serde_json::to_value(&applied).expect("json");
        let differs = format!("{}: stored spec differs", seed.name);
        for pointer in [
            "/repository/branch",
            "/repository/baseBranch",
            "/writeMode",
            "/pullRequest/branchPrefix",
        ] {
            assert_eq!(
                spec.pointer(pointer),
                seed.value.pointer(&format!("/spec{pointer}")),
                "{}: {pointer} left as documented",
                seed.name
            );
        }
        match seed.kind.as_str() {
            "GitCommit" => {
                let [typed, documented] = [stored, seed.value.clone()].map(typed::<GitCommit>);
                assert_eq!(typed.spec, documented.spec, "{differs}");
            }
            _ => {
                let [typed, documented] = [stored, seed.value.clone()].map(typed::<PullRequest>);
                assert_eq!(typed.spec, documented.spec, "{differs}");
            }
        }
    }
}

fn typed<K: DeserializeOwned>(value: Value) -> K {
    serde_json::from_value(value).expect("typed")
}

/// A minimal valid GitCommit as JSON, to break one field at a time.
fn valid_gitcommit(name: &str) -> Value {
    json!({
        "apiVersion": "gco.galos.one/v1",
        "kind": "GitCommit",
        "metadata": { "name": name },
        "spec": {
            "repository": { "url": "https://git.example.com/team/repo.git" },
            "files": [{ "path": "a.txt", "content": "a" }],
            "resourceReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                "output": { "path": "app.yaml" }
            }]
        }
    })
}

#[tokio::test]
async fn invalid_specs_are_refused_with_the_field_named() {
    let (client, namespace) = setup("invalid").await;
    let api = dynamic::<GitCommit>(&client, &namespace);
    type Break = fn(&mut Value);
    let table: [(&str, Break, &str); 10] = [
        (
            "missing repository URL",
            |v| {
                v["spec"]["repository"]
                    .as_object_mut()
                    .unwrap()
                    .remove("url");
            },
            "spec.repository.url",
        ),
        (
            "empty repository URL",
            |v| v["spec"]["repository"]["url"] = json!(""),
            "spec.repository.url",
        ),
        (
            "unknown strategy",
            |v| v["spec"]["resourceReferences"][0]["strategy"] = json!("copy"),
            "spec.resourceReferences[0].strategy",
        ),
        (
            "single-field without field",
            |v| v["spec"]["resourceReferences"][0]["strategy"] = json!("single-field"),
            "spec.resourceReferences[0].field",
        ),
        (
            "field with dump",
            |v| v["spec"]["resourceReferences"][0]["field"] = json!("x"),
            "spec.resourceReferences[0].field",
        ),
        (
            "empty file path",
            |v| v["spec"]["files"][0]["path"] = json!(""),
            "spec.files[0].path",
        ),
        (
            "empty output path",
            |v| v["spec"]["resourceReferences"][0]["output"]["path"] = json!(""),
            "spec.resourceReferences[0].output.path",
        ),
        (
            "wrong writeMode",
            |v| v["spec"]["writeMode"] = json!("prepend"),
            "spec.writeMode",
        ),
        (
            "wrong per-file writeMode",
            |v| v["spec"]["files"][0]["writeMode"] = json!("sometimes"),
            "spec.files[0].writeMode",
        ),
        (
            "reference without kind",
            |v| {
                v["spec"]["resourceReferences"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("kind");
            },
            "spec.resourceReferences[0].kind",
        ),
    ];
    for (i, (case, break_it, field)) in table.into_iter().enumerate() {
        let mut object = valid_gitcommit(&format!("invalid-{i}"));
        break_it(&mut object);
        let object: DynamicObject = serde_json::from_value(object).expect("object");
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => panic!("{case}: accepted, should be refused"),
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{case}: {}", status.message);
                assert!(
                    status.message.contains(field),
                    "{case}: message does not name {field}: {}",
                    status.message
                );
            }
            Err(other) => panic!("{case}: unexpected error {other}"),
        }
    }
    // The unbroken object is accepted, so the refusals above are about the broken fields.
    let object: DynamicObject = serde_json::from_value(valid_gitcommit("valid")).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("the valid GitCommit is accepted");
}

#[tokio::test]
async fn invalid_pull_requests_and_policies_are_refused() {
    let (client, namespace) = setup("invalid-pr").await;
    let prs = dynamic::<PullRequest>(&client, &namespace);
    let pr = |provider: &str, title: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "gco.galos.one/v1", "kind": "PullRequest",
            "metadata": { "name": format!("pr-{provider}") },
            "spec": {
                "repository": { "url": "https://git.example.com/o/r.git", "provider": provider },
                "pullRequest": { "title": title }
            }
        }))
        .expect("object")
    };
    let err = prs
        .create(&PostParams::default(), &pr("bitbucket", "t"))
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("spec.repository.provider"),
        "{err}"
    );
    let err = prs
        .create(&PostParams::default(), &pr("gitea", ""))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("spec.pullRequest.title"), "{err}");
    prs.create(&PostParams::default(), &pr("gitea", "Sync"))
        .await
        .expect("valid PR accepted");

    let policies: Api<DynamicObject> =
        Api::all_with(client.clone(), &ApiResource::erase::<GitExportPolicy>(&()));
    let policy: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": format!("{namespace}-bad") },
        "spec": { "allowedSchemes": ["ftp"] }
    }))
    .expect("object");
    let err = policies
        .create(&PostParams::default(), &policy)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("spec.allowedSchemes[0]"), "{err}");
}

#[tokio::test]
async fn kubectl_shows_printer_columns_short_names_and_field_docs() {
    let (client, namespace) = setup("kubectl").await;
    let api = dynamic::<GitCommit>(&client, &namespace);
    // The branch column shows the spec's branch: the webhook fills it where the spec leaves
    // it out, and there is no webhook here.
    let mut shown = valid_gitcommit("shown");
    shown["spec"]["repository"]["branch"] = json!("main");
    let object: DynamicObject = serde_json::from_value(shown).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("created");

    let kubectl = |args: &[&str]| ControlPlane::shared().run_kubectl(args).expect("kubectl");
    let table = kubectl(&["get", "gcommit", "-n", &namespace]);
    let header = String::from_utf8_lossy(&table.stdout);
    let header = header.lines().next().expect("a header line");
    for column in [
        "NAME",
        "READY",
        "STATUS",
        "REPOSITORY",
        "BRANCH",
        "COMMIT",
        "AGE",
    ] {
        assert!(header.contains(column), "no {column} column in {header:?}");
    }
    let row = String::from_utf8_lossy(&table.stdout);
    assert!(
        row.contains("https://git.example.com/team/repo.git") && row.contains("main"),
        "{row}"
    );

    let prs = kubectl(&["get", "gpr", "-n", &namespace]);
    assert!(prs.status.success());
    let gep = kubectl(&["get", "gep"]);
    assert!(gep.status.success());

    let explain = kubectl(&["explain", "gitcommit.spec.resourceReferences"]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("Live cluster objects to export"), "{text}");
    assert!(text.contains("strategy"), "{text}");
    let explain = kubectl(&["explain", "gitcommit.spec.repository.branch"]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains("defaults.branch") && text.contains("`main`"),
        "{text}"
    );
    let explain = kubectl(&["explain", "gitexportpolicy.spec.requireRequesterAccess"]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("Default: true"), "{text}");
}

#[tokio::test]
async fn status_is_a_subresource_with_conditions_keyed_by_type() {
    let (client, namespace) = setup("status").await;
    let api: Api<GitCommit> = Api::namespaced(client.clone(), &namespace);
    let object: DynamicObject = serde_json::from_value(valid_gitcommit("st")).expect("object");
    dynamic::<GitCommit>(&client, &namespace)
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
    let condition = |type_: &str, status: &str| {
        json!({ "type": type_, "status": status, "reason": "Succeeded", "message": "ok",
                "lastTransitionTime": "2026-11-22T13:00:00Z", "observedGeneration": 1 })
    };
    let status = |conditions: Vec<Value>| {
        json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
                "status": { "observedGeneration": 1, "phase": "Committed", "commitSHA": "abc",
                            "conditions": conditions } })
    };
    let params = PatchParams::apply("gco-controller").force();
    api.patch_status(
        "st",
        &params,
        &Patch::Apply(status(vec![condition("Ready", "True")])),
    )
    .await
    .expect("status applied");
    // A second manager owns a different condition type: the list merges by `type`.
    api.patch_status(
        "st",
        &PatchParams::apply("someone-else").force(),
        &Patch::Apply(status(vec![condition("Other", "False")])),
    )
    .await
    .expect("second status applied");
    let stored = api.get_status("st").await.expect("read");
    let status = stored.status.expect("status present");
    let types: Vec<_> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, ["Ready", "Other"]);
    assert_eq!(status.commit_sha.as_deref(), Some("abc"));
    // Status written through the main resource is ignored: it is a subresource.
    let before = api.get("st").await.expect("read");
    api.patch(
        "st",
        &PatchParams::apply("sneaky").force(),
        &Patch::Apply(json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "status": { "phase": "Failed" }
        })),
    )
    .await
    .expect("patch accepted");
    let after = api.get("st").await.expect("read");
    assert_eq!(
        before.status.and_then(|s| s.phase),
        after.status.and_then(|s| s.phase)
    );
}
