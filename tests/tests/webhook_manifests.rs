//! The webhook's kustomize manifests (`config/webhook/`) are accepted by a real apiserver
//! (server-side dry run: schemas, CEL match conditions, RBAC), and register the webhook only for
//! `gco.galos.one` resources, failing closed (an object the webhook could not check is not
//! admitted), without side effects, with a 5 second timeout and `admission.k8s.io/v1` only.

use gco_tests::{testenv::ControlPlane, workspace_root};
use serde_json::Value;

/// The standard output of `kubectl <args>`, which must succeed.
fn kubectl(args: &[&str]) -> String {
    let output = ControlPlane::shared().run_kubectl(args).expect("kubectl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_manifests_apply_and_register_only_our_group() {
    let dir = workspace_root().join("config/webhook");
    let dir = dir.to_str().expect("a UTF-8 path");
    let _ = ControlPlane::shared()
        .kubectl()
        .args(["create", "namespace", "git-change-operator-system"])
        .output();
    kubectl(&["apply", "--dry-run=server", "-k", dir]);
    // One JSON document per object.
    let rendered = kubectl(&["create", "--dry-run=client", "-o", "json", "-k", dir]);
    let items: Vec<Value> = serde_json::Deserializer::from_str(&rendered)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("JSON documents");
    let configurations: Vec<&Value> = items
        .iter()
        .filter(|item| {
            item["kind"]
                .as_str()
                .is_some_and(|k| k.ends_with("WebhookConfiguration"))
        })
        .collect();
    assert_eq!(configurations.len(), 2);
    for configuration in configurations {
        for webhook in configuration["webhooks"].as_array().expect("webhooks") {
            assert_eq!(webhook["failurePolicy"], "Fail");
            assert_eq!(webhook["sideEffects"], "None");
            assert_eq!(webhook["timeoutSeconds"], 5);
            assert_eq!(
                webhook["admissionReviewVersions"],
                serde_json::json!(["v1"])
            );
            for rule in webhook["rules"].as_array().expect("rules") {
                assert_eq!(rule["apiGroups"], serde_json::json!(["gco.galos.one"]));
            }
        }
    }
}
