//! Requester access through the real apiserver and authorizer: a user may export only what
//! they may `get`, and metadata-only updates are not re-checked against the updater.

use gco_tests::{
    admission::{create, eventually, setup},
    rbac::{self, Subject},
    testenv::ControlPlane,
};
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams},
};
use serde_json::{Value, json};

/// Grants `user` the verbs on the resources in `namespace` with a Role and RoleBinding.
async fn grant(
    client: &Client,
    namespace: &str,
    user: &str,
    name: &str,
    resources: Value,
    group: &str,
    verbs: Value,
) {
    let rules = json!([{"apiGroups": [group], "resources": resources, "verbs": verbs}]);
    rbac::grant(client, namespace, name, rules, Subject::User(user))
        .await
        .expect("grant");
}

/// A test namespace and the admin's client; user `<name>-<namespace>`, allowed to create and
/// edit GitCommits there and nothing else, and that user's client.
async fn exporter(prefix: &str, name: &str) -> (Client, String, String, Client) {
    let (admin, namespace) = setup(prefix).await.expect("setup");
    let user = format!("{name}-{namespace}");
    grant(
        &admin,
        &namespace,
        &user,
        "exporter",
        json!(["gitcommits"]),
        "gco.galos.one",
        json!(["create", "get", "update", "patch"]),
    )
    .await;
    let client = ControlPlane::shared()
        .user_client(&user, None)
        .await
        .expect("user client");
    (admin, namespace, user, client)
}

fn exporting(kind: &str, strategy: &str, field: Option<&str>) -> Value {
    let mut reference = json!({"apiVersion": "v1", "kind": kind, "name": "obj", "strategy": strategy, "output": {"path": "out/obj"}});
    if let Some(field) = field {
        reference["field"] = json!(field);
    }
    json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": format!("export-{}", kind.to_lowercase())},
        "spec": {"repository": {"url": "https://github.com/company/repo.git"}, "resourceReferences": [reference]}
    })
}

#[tokio::test]
async fn a_user_exports_only_what_they_may_read() {
    let (admin, namespace, user, alice) = exporter("wh-rbac", "alice").await;

    let secret = exporting("Secret", "single-field", Some("tls.crt"));
    let refused = create(&alice, &namespace, &secret, true)
        .await
        .expect_err("no get on secrets");
    assert!(refused.contains("may not get Secret \"obj\""), "{refused}");
    assert!(refused.contains("requester-access"), "{refused}");

    let config_map = exporting("ConfigMap", "dump", None);
    let refused = create(&alice, &namespace, &config_map, true)
        .await
        .expect_err("no get on configmaps");
    assert!(
        refused.contains("may not get ConfigMap \"obj\""),
        "{refused}"
    );

    grant(
        &admin,
        &namespace,
        &user,
        "reader",
        json!(["secrets", "configmaps"]),
        "",
        json!(["get"]),
    )
    .await;
    eventually(&alice, &namespace, &secret, Result::is_ok)
        .await
        .expect("admitted with get on secrets");
    eventually(&alice, &namespace, &config_map, Result::is_ok)
        .await
        .expect("admitted with get on configmaps");
}

#[tokio::test]
async fn metadata_only_updates_are_not_rechecked_against_the_updater() {
    let (admin, namespace, _, bob) = exporter("wh-meta", "bob").await;
    // The admin, who may read everything, creates the export.
    let object = exporting("ConfigMap", "dump", None);
    create(&admin, &namespace, &object, false)
        .await
        .expect("admin creates");
    let api: Api<DynamicObject> = Api::namespaced_with(
        bob,
        &namespace,
        &gco_tests::webhook::gco_api_resource("GitCommit"),
    );
    let patch = |body: Value| {
        let api = &api;
        async move {
            api.patch(
                "export-configmap",
                &PatchParams::default(),
                &Patch::Merge(&body),
            )
            .await
        }
    };
    patch(json!({"metadata": {"labels": {"team": "b"}}}))
        .await
        .expect("a label change is not re-checked");
    let refused = patch(json!({"spec": {"commit": {"message": "changed"}}}))
        .await
        .expect_err("a spec change is re-checked against bob");
    assert!(
        refused.to_string().contains("requester-access"),
        "{refused}"
    );
}
