//! Tenant attacks at admission: a tenant bound to a namespaced Role (manage GitCommits and
//! PullRequests, read ConfigMaps, nothing else) tries every attack of docs/security.md through
//! the real apiserver and webhook. Each is refused with a message naming the field, the rule
//! and the fix. tenant_attacks_lockdown.rs tries the same with the webhook off.

use gco_tests::{
    admission::{apply_policy, create, setup},
    attacker::{AttackerHost, CREDENTIALS, attack_policy, attacks},
    rbac::{self, Subject},
    testenv::ControlPlane,
};
use kube::{
    Api, Client,
    api::{DynamicObject, PostParams},
};
use serde_json::json;

/// The tenant: GitCommits and PullRequests, and ConfigMaps to read; no Secrets.
async fn tenant(admin: &Client, namespace: &str) -> Client {
    let user = format!("tenant-{namespace}");
    let rules = json!([
        {"apiGroups": ["gco.galos.one"], "resources": ["gitcommits", "pullrequests"],
         "verbs": ["create", "get", "list", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    ]);
    rbac::grant(admin, namespace, "tenant", rules, Subject::User(&user))
        .await
        .expect("tenant role");
    ControlPlane::shared()
        .user_client(&user, None)
        .await
        .expect("tenant client")
}

/// Creates as the tenant until the refusal names `field` and one of `rules` (RBAC and
/// policies reach the authorizer and the webhook a moment after they are written).
async fn refused(
    tenant: &Client,
    namespace: &str,
    object: &serde_json::Value,
    field: &str,
    rules: &[&str],
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let result = create(tenant, namespace, object, true).await;
        if let Err(message) = &result
            && message.contains(field)
            && rules.iter().any(|rule| message.contains(rule))
        {
            return message.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}: not refused at {field} by {rules:?}: {result:?}",
            object["metadata"]["name"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_attack_is_refused_at_admission_naming_the_field_the_rule_and_the_fix() {
    let (admin, namespace) = setup("attack").await.expect("setup");
    let attacker = AttackerHost::start().await.expect("attacker host");
    apply_policy(&admin, &namespace, "attacks", attack_policy())
        .await
        .expect("policy");
    let tenant = tenant(&admin, &namespace).await;
    for attack in attacks(&attacker.origin(), "https://github.com/company/repo.git") {
        let message = refused(
            &tenant,
            &namespace,
            &attack.object(),
            attack.field,
            attack.rules,
        )
        .await;
        assert!(message.contains("fix:"), "{}: {message}", attack.name);
    }

    // Credentials the tenant may not read, sent to the tenant's host.
    let harvest = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": "harvest"},
        "spec": {
            "repository": {"url": format!("{}/loot.git", attacker.origin())},
            "auth": {"secretName": CREDENTIALS},
            "files": [{"path": "clusters/x.txt", "content": "x"}]
        }
    });
    let message = refused(
        &tenant,
        &namespace,
        &harvest,
        "spec.auth.secretName",
        &["requester-access"],
    )
    .await;
    assert!(message.contains("may not get Secret"), "{message}");
    assert!(
        attacker.requests().is_empty(),
        "admission contacts no host a spec names"
    );
}

#[tokio::test]
async fn a_policy_the_operator_could_not_read_is_refused_by_the_apiserver() {
    let (admin, _namespace) = setup("attack-policy").await.expect("setup");
    let api: Api<DynamicObject> = Api::all_with(
        admin.clone(),
        &gco_tests::webhook::gco_api_resource("GitExportPolicy"),
    );
    let policy: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": {"name": "attack-overflow"},
        "spec": {"limits": {"maxFiles": 4_294_967_296u64}}
    }))
    .expect("policy");
    let error = api
        .create(&PostParams::default(), &policy)
        .await
        .expect_err("out of the schema's bounds");
    assert!(error.to_string().contains("maxFiles"), "{error}");
}
