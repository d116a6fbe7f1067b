//! AdmissionReview JSON in, AdmissionResponse out: every rule allowed and denied, defaults
//! and their idempotence, and malformed reviews.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use gco_api::{
    GitExportPolicy, GitExportPolicySpec,
    policy::{RepositoryRule, SecretRules},
    rules::{AccessCheck, PolicySet},
};
use k8s_openapi::api::authentication::v1::UserInfo;
use serde_json::{Value, json};

use crate::{
    Cluster, ClusterError, Endpoint, Webhook, fixed::FixedCluster,
    validate::MAX_CONCURRENT_ACCESS_CHECKS,
};

const NS: &str = "team";

fn review(kind: &str, operation: &str, object: Value, old: Option<Value>) -> Vec<u8> {
    let resource = match kind {
        "GitCommit" => "gitcommits",
        "PullRequest" => "pullrequests",
        _ => "gitexportpolicies",
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "gco.galos.one", "version": "v1", "kind": kind},
            "resource": {"group": "gco.galos.one", "version": "v1", "resource": resource},
            "name": "x",
            "namespace": NS,
            "operation": operation,
            "userInfo": {"username": "alice", "uid": "1", "groups": ["dev"], "extra": {"scope": ["a"]}},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    }))
    .expect("serialisable")
}

fn git_commit(spec: Value) -> Value {
    json!({"apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": {"name": "x", "namespace": NS}, "spec": spec})
}

fn base_spec() -> Value {
    json!({
        "repository": {"url": "https://github.com/company/repo.git", "branch": "main"},
        "writeMode": "overwrite",
        "commit": {"author": "A <a@b>", "message": "Sync $(date)"},
        "resourceReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": "app", "namespace": NS,
            "strategy": "dump", "output": {"path": "apps/app.yaml"}
        }]
    })
}

async fn call(cluster: FixedCluster, endpoint: Endpoint, body: &[u8]) -> (u16, Value) {
    let reply = Webhook::new(cluster).review(endpoint, body).await;
    let value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, value)
}

async fn validate(cluster: FixedCluster, spec: Value) -> (bool, String) {
    let (status, value) = call(
        cluster,
        Endpoint::Validate,
        &review("GitCommit", "CREATE", git_commit(spec), None),
    )
    .await;
    assert_eq!(status, 200);
    let response = &value["response"];
    assert_eq!(response["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    (
        response["allowed"].as_bool().expect("allowed is a bool"),
        response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn with(mut spec: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = spec.pointer_mut(pointer) {
        *slot = value;
    }
    spec
}

#[tokio::test]
async fn a_valid_export_is_allowed() {
    assert_eq!(
        validate(FixedCluster::default(), base_spec()).await,
        (true, String::new())
    );
}

#[tokio::test]
async fn every_rule_denies_with_field_rule_and_fix() {
    let cases = [
        (
            "/resourceReferences/0/output/path",
            json!("../escape"),
            "spec.resourceReferences[0].output.path",
            "path-safety",
        ),
        (
            "/resourceReferences/0/output/path",
            json!("/abs"),
            "spec.resourceReferences[0].output.path",
            "path-safety",
        ),
        (
            "/resourceReferences/0/output/path",
            json!("a/.GIT/config"),
            "spec.resourceReferences[0].output.path",
            "path-safety",
        ),
        (
            "/commit/message",
            json!("$(rm -rf /)"),
            "spec.commit.message",
            "placeholder",
        ),
        (
            "/commit/message",
            json!("`id`"),
            "spec.commit.message",
            "placeholder",
        ),
        (
            "/repository/url",
            json!("https://u:tok@github.com/a/b"),
            "spec.repository.url",
            "repository-credentials",
        ),
        (
            "/repository/url",
            json!("http://github.com/a/b"),
            "spec.repository.url",
            "repository-scheme",
        ),
        (
            "/repository/branch",
            json!("a..b"),
            "spec.repository.branch",
            "branch-name",
        ),
        (
            "/resourceReferences/0/kind",
            json!("Secret"),
            "spec.resourceReferences[0].strategy",
            "secret-strategy",
        ),
    ];
    for (pointer, value, field, rule) in cases {
        let (allowed, message) = validate(
            FixedCluster::default(),
            with(base_spec(), pointer, value.clone()),
        )
        .await;
        assert!(!allowed, "{pointer} = {value} should be denied");
        assert!(message.contains(field), "{message}");
        assert!(message.contains(&format!("rule {rule}")), "{message}");
        assert!(message.contains("fix:"), "{message}");
        assert!(!message.contains("tok@"), "credentials leaked: {message}");
    }
}

#[tokio::test]
async fn secret_fields_need_the_allow_list() {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "name": "am", "strategy": "single-field",
        "field": "alertmanager.yml", "output": {"path": "am.yml"}
    });
    let spec = with(base_spec(), "/resourceReferences/0", secret);
    let (allowed, message) = validate(FixedCluster::default(), spec.clone()).await;
    assert!(!allowed);
    assert!(message.contains("spec.secrets.allowedFields"), "{message}");
    let policy = GitExportPolicy::new(
        "monitoring",
        GitExportPolicySpec {
            secrets: Some(SecretRules {
                allowed_fields: vec!["alertmanager.yml".into()],
                encryption: None,
            }),
            cross_namespace_references: true,
            require_requester_access: true,
            ..Default::default()
        },
    );
    assert!(
        validate(FixedCluster::default().with_policy(policy), spec)
            .await
            .0
    );
}

#[tokio::test]
async fn a_user_who_may_not_read_an_object_may_not_export_it() {
    let cluster = FixedCluster::default().forbid("ConfigMap", NS, "app");
    let (allowed, message) = validate(cluster, base_spec()).await;
    assert!(!allowed);
    assert!(
        message.contains("may not get ConfigMap \"app\""),
        "{message}"
    );
    assert!(message.contains("requester-access"), "{message}");
}

#[tokio::test]
async fn signed_commits_are_required_where_a_policy_says_and_the_key_must_be_readable() {
    let policy = GitExportPolicy::new(
        "signed",
        GitExportPolicySpec {
            repositories: vec![RepositoryRule {
                url: "https://github.com/company/*".into(),
                require_signed_commits: true,
                ..RepositoryRule::default()
            }],
            cross_namespace_references: true,
            require_requester_access: true,
            ..Default::default()
        },
    );
    let cluster = || FixedCluster::default().with_policy(policy.clone());
    let (allowed, message) = validate(cluster(), base_spec()).await;
    assert!(!allowed);
    for part in [
        "spec.commit.signingKey.secretName: commits to branch \"main\"",
        "`spec.repositories[0].requireSignedCommits` of GitExportPolicy \"signed\"",
        "(rule signed-commits); fix: set `spec.commit.signingKey.secretName`",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    let mut signed = base_spec();
    signed["commit"]["signingKey"] = json!({"secretName": "signing-key"});
    assert_eq!(
        validate(cluster(), signed.clone()).await,
        (true, String::new())
    );
    let (allowed, message) = validate(cluster().forbid("Secret", NS, "signing-key"), signed).await;
    assert!(!allowed);
    assert!(
        message.contains(
            "spec.commit.signingKey.secretName: user \"alice\" may not get Secret \"signing-key\""
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_user_who_may_not_list_a_kind_may_not_select_it() {
    let mut spec = base_spec();
    spec["resourceReferences"][0] = json!({
        "apiVersion": "v1", "kind": "ConfigMap", "namespace": NS,
        "selector": {"matchLabels": {"backup": "yes"}}, "output": {"path": "backups/"}
    });
    let (allowed, message) = validate(
        FixedCluster::default().forbid("ConfigMap", NS, ""),
        spec.clone(),
    )
    .await;
    assert!(!allowed);
    assert!(
        message.contains(&format!("may not list ConfigMap in namespace {NS:?}"))
            && message.contains("`list`"),
        "{message}"
    );
    // Everywhere a namespaceSelector may look: a list in one namespace is not enough.
    spec["resourceReferences"][0]["namespaceSelector"] = json!({});
    spec["resourceReferences"][0]
        .as_object_mut()
        .map(|r| r.remove("namespace"));
    let (allowed, message) =
        validate(FixedCluster::default().forbid("ConfigMap", "", ""), spec).await;
    assert!(!allowed);
    assert!(
        message.contains("may not list ConfigMap in every namespace"),
        "{message}"
    );
}

#[tokio::test]
async fn metadata_only_updates_are_not_rechecked() {
    let cluster = FixedCluster::default().forbid("ConfigMap", NS, "app");
    let object = git_commit(base_spec());
    let mut old = object.clone();
    old["metadata"]["finalizers"] = json!(["gco.galos.one/finalizer"]);
    let body = review("GitCommit", "UPDATE", object.clone(), Some(old));
    let (_, value) = call(cluster.clone(), Endpoint::Validate, &body).await;
    assert_eq!(value["response"]["allowed"], true);
    let mut changed = object.clone();
    changed["spec"]["commit"]["message"] = json!("changed");
    let body = review("GitCommit", "UPDATE", changed, Some(object));
    let (_, value) = call(cluster, Endpoint::Validate, &body).await;
    assert_eq!(value["response"]["allowed"], false);
}

fn apply(object: &Value, response: &Value) -> Value {
    let mut patched = object.clone();
    // kube-core sends the patch as an array of bytes (Go's decoder reads that into []byte
    // as well as base64).
    let bytes = match &response["patch"] {
        Value::String(encoded) => Some(base64_decode(encoded)),
        Value::Array(numbers) => Some(
            numbers
                .iter()
                .filter_map(|n| n.as_u64().map(|n| n as u8))
                .collect(),
        ),
        _ => None,
    };
    if let Some(bytes) = bytes {
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("a JSON patch");
        json_patch::patch(&mut patched, &patch).expect("the patch applies");
    }
    patched
}

/// The patch travels base64-encoded; a tiny decoder keeps the dependency list short.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in text.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|a| *a == byte).expect("base64") as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn mutate_fills_defaults_once() {
    let object = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "PullRequest", "metadata": {"name": "x", "namespace": NS},
        "spec": {
            "repository": {"url": "https://github.com/company/gitops.git", "baseBranch": "main"},
            "pullRequest": {"title": "Sync", "branchPrefix": "gco"},
            "files": [{"path": "./docs//a.md", "content": ""}],
            "resourceReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "output": {"path": "apps//a/"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "selector": {}, "namespaceSelector": {}, "output": {"path": "all"}}
            ]
        }
    });
    let (status, first) = call(
        FixedCluster::default(),
        Endpoint::Mutate,
        &review("PullRequest", "CREATE", object.clone(), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(first["response"]["patchType"], "JSONPatch");
    let once = apply(&object, &first["response"]);
    assert_eq!(once["spec"]["repository"]["provider"], "github");
    assert_eq!(once["spec"]["commit"]["message"], "Changes for PR: Sync");
    assert_eq!(
        once["spec"]["commit"]["author"],
        "Git Change Operator <gco@localhost>"
    );
    assert_eq!(once["spec"]["resourceReferences"][0]["namespace"], NS);
    assert!(
        once["spec"]["resourceReferences"][1]["namespace"].is_null(),
        "a namespaceSelector takes no namespace"
    );
    assert_eq!(once["spec"]["files"][0]["path"], "docs/a.md");
    assert_eq!(
        once["spec"]["resourceReferences"][0]["output"]["path"],
        "apps/a/"
    );
    let (_, second) = call(
        FixedCluster::default(),
        Endpoint::Mutate,
        &review("PullRequest", "CREATE", once.clone(), None),
    )
    .await;
    assert!(
        second["response"]["patch"].is_null(),
        "mutating twice patches nothing: {second}"
    );
    assert_eq!(apply(&once, &second["response"]), once);
}

#[tokio::test]
async fn malformed_reviews_are_a_400_or_a_clean_denial() {
    let garbage: [&[u8]; 5] = [
        b"",
        b"not json",
        br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#,
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":1}}"#,
    ];
    for body in garbage {
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let (status, _) = call(FixedCluster::default(), endpoint, body).await;
            assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        }
    }
    let mut no_object: Value =
        serde_json::from_slice(&review("GitCommit", "CREATE", Value::Null, None)).expect("json");
    no_object["request"]["object"] = Value::Null;
    let (status, value) = call(
        FixedCluster::default(),
        Endpoint::Validate,
        &serde_json::to_vec(&no_object).expect("json"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(value["response"]["allowed"], false);
    let bad_spec = git_commit(json!({"repository": 5}));
    let (_, value) = call(
        FixedCluster::default(),
        Endpoint::Validate,
        &review("GitCommit", "CREATE", bad_spec, None),
    )
    .await;
    assert_eq!(value["response"]["allowed"], false);
}

#[tokio::test]
async fn invalid_policies_are_refused() {
    let policy = json!({"apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy", "metadata": {"name": "p"},
        "spec": {"repositories": [{"url": "https://x/[", "branches": []}]}});
    let (_, value) = call(
        FixedCluster::default(),
        Endpoint::Validate,
        &review("GitExportPolicy", "CREATE", policy, None),
    )
    .await;
    assert_eq!(value["response"]["allowed"], false);
}

#[tokio::test]
async fn metrics_count_decisions() {
    let webhook = Webhook::new(FixedCluster::default());
    webhook
        .review(
            Endpoint::Validate,
            &review("GitCommit", "CREATE", git_commit(base_spec()), None),
        )
        .await;
    webhook.review(Endpoint::Validate, b"garbage").await;
    let text = webhook.metrics.render();
    assert!(text.contains(r#"decision="Allowed""#), "{text}");
    assert!(text.contains(r#"decision="Invalid""#), "{text}");
    assert!(
        text.contains("gco_webhook_review_duration_seconds"),
        "{text}"
    );
}

/// A [`FixedCluster`] whose access checks each take a moment and are counted: how many ran,
/// and the most that were in flight at once.
#[derive(Default)]
struct CountingCluster {
    inner: FixedCluster,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Cluster for CountingCluster {
    fn policies(&self) -> Result<Arc<PolicySet>, ClusterError> {
        self.inner.policies()
    }

    async fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        self.inner.namespace_labels(namespace).await
    }

    async fn kind_served(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<bool, ClusterError> {
        self.inner.kind_served(group, version, kind).await
    }

    async fn allowed(&self, user: &UserInfo, check: &AccessCheck) -> Result<bool, ClusterError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        let answer = self.inner.allowed(user, check).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }
}

#[tokio::test]
async fn access_checks_run_a_bounded_number_at_a_time_and_report_in_reference_order() {
    const REFERENCES: usize = 60;
    let references: Vec<Value> = (0..REFERENCES)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": format!("app-{i}"), "namespace": NS,
                "strategy": "dump", "output": {"path": format!("apps/app-{i}.yaml")}})
        })
        .collect();
    let spec = with(base_spec(), "/resourceReferences", Value::Array(references));
    let forbidden = [3, 17, 59];
    let mut fixed = FixedCluster::default();
    for i in forbidden {
        fixed = fixed.forbid("ConfigMap", NS, &format!("app-{i}"));
    }
    let cluster = Arc::new(CountingCluster {
        inner: fixed,
        ..Default::default()
    });
    let reply = Webhook::new(cluster.clone())
        .review(
            Endpoint::Validate,
            &review("GitCommit", "CREATE", git_commit(spec), None),
        )
        .await;
    assert_eq!(reply.status, 200);
    let value: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(value["response"]["allowed"], false);
    assert_eq!(cluster.calls.load(Ordering::SeqCst), REFERENCES);
    assert_eq!(
        cluster.peak.load(Ordering::SeqCst),
        MAX_CONCURRENT_ACCESS_CHECKS,
        "the checks run concurrently, never more than the bound"
    );
    let refusal = |i: usize| {
        format!(
            "spec.resourceReferences[{i}]: user \"alice\" may not get ConfigMap \"app-{i}\" in namespace \"{NS}\", so may not export it (rule requester-access); fix: reference an object you can read, or ask a cluster admin for `get` on it (an admin may also set `spec.requireRequesterAccess: false` on every GitExportPolicy that selects this namespace)"
        )
    };
    let expected = format!(
        "3 policy violations:\n- {}",
        forbidden.map(refusal).join("\n- ")
    );
    assert_eq!(value["response"]["status"]["message"], expected);
}

#[tokio::test]
async fn an_unreadable_policy_refuses_the_namespaces_it_may_govern() {
    let mut cluster = FixedCluster::default();
    Arc::make_mut(&mut cluster.policies)
        .broken
        .push(gco_api::rules::BrokenPolicy {
            name: "limits".into(),
            error: "invalid value: integer `4294967296`, expected u32".into(),
            selector: None,
        });
    let (allowed, message) = validate(cluster, base_spec()).await;
    assert!(!allowed, "fail closed");
    assert!(
        message.contains("\"limits\"") && message.contains("cannot be read"),
        "{message}"
    );
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_is_refused() {
    let mut cluster = FixedCluster::default();
    cluster.unknown_kinds.insert("Widget".into());
    let mut spec = base_spec();
    spec["resourceReferences"] = json!([{
        "apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
        "strategy": "dump", "output": {"path": "widgets/w.yaml"}
    }]);
    let (allowed, message) = validate(cluster, spec).await;
    assert!(!allowed, "an unknown kind is refused");
    assert!(
        message.contains("spec.resourceReferences[0].kind")
            && message.contains("unknown-kind")
            && message.contains("install the CRD"),
        "{message}"
    );
}
