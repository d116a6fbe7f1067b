//! `gco-controller render` and the running controller judge the same specs the same way: each
//! spec below is created in a namespace the controller watches (no webhook) and rendered
//! offline with the same policy; both refuse it naming the same field and rule, or both accept.

use gco_tests::{
    controller::controller_binary,
    scenario::{Scenario, condition, gitcommit},
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// A spec, by name and spec fields, and the field and rule both must name (`None`: both
/// accept it).
type Case = (&'static str, Value, Option<(&'static str, &'static str)>);

/// The offline verdict: `Ok(stdout)` or `Err(stderr)`.
fn render(dir: &std::path::Path, object: &Value, policy: &Value) -> Result<String, String> {
    let spec = dir.join(format!(
        "{}.yaml",
        object["metadata"]["name"].as_str().unwrap_or("x")
    ));
    std::fs::write(&spec, serde_json::to_string(object).expect("json")).expect("spec file");
    let policy_file = dir.join("policy.yaml");
    std::fs::write(&policy_file, serde_json::to_string(policy).expect("json")).expect("policy");
    let output = std::process::Command::new(controller_binary().expect("gco-controller"))
        .args(["render", "-f"])
        .arg(&spec)
        .arg("--policy")
        .arg(&policy_file)
        .output()
        .expect("run render");
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

#[tokio::test]
async fn render_refuses_what_the_controller_refuses() {
    let mut s = Scenario::new("render-rules").await.expect("scenario");
    let policy_name = format!("{}-render", s.namespace);
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": policy_name },
        "spec": {
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": s.namespace } },
            "allowedSchemes": ["git"],
            "paths": { "allowedPrefixes": ["exports/"] },
            "deniedKinds": [{ "group": "apps", "kind": "Deployment" }]
        }
    });
    let policies = kube::Api::<gco_api::GitExportPolicy>::all(s.client.clone());
    policies
        .patch(
            &policy_name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("policy");
    s.start_controller("c1", &[]).expect("controller");
    let file = |path: &str| json!([{ "path": path, "content": "x\n" }]);
    let cases: Vec<Case> = vec![
        (
            "backtick",
            json!({ "files": file("exports/x-`id`.txt") }),
            Some(("spec.files[0].path", "placeholder")),
        ),
        (
            "shell",
            json!({ "files": file("exports/a.txt"), "commit": { "message": "$(rm -rf /)" } }),
            Some(("spec.commit.message", "placeholder")),
        ),
        (
            "outside",
            json!({ "files": file("elsewhere/a.txt") }),
            Some(("spec.files[0].path", "path-prefix")),
        ),
        (
            "denied",
            json!({ "resourceReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment",
                "name": "web", "output": { "path": "exports/web.yaml" } }] }),
            Some(("spec.resourceReferences[0]", "denied-kind")),
        ),
        (
            "forever",
            json!({ "files": file("exports/a.txt"), "schedule": "@daily", "ttlSecondsAfterFinished": 5 }),
            Some(("spec.ttlSecondsAfterFinished", "ttl-with-schedule")),
        ),
        (
            "query",
            json!({ "resourceReferences": [{ "apiVersion": "v1", "kind": "ConfigMap",
                "selector": { "matchLabels": { "app": "web,env!=prod" } },
                "output": { "path": "exports/" } }] }),
            Some(("spec.resourceReferences[0].selector", "selector")),
        ),
        (
            "selected-secrets",
            json!({ "resourceReferences": [{ "apiVersion": "v1", "kind": "Secret",
                "strategy": "single-field", "field": "tls.crt",
                "selector": { "matchLabels": { "app": "web" } },
                "output": { "path": "exports/" } }] }),
            Some(("spec.resourceReferences[0].selector", "selector")),
        ),
        ("fine", json!({ "files": file("exports/a.txt") }), None),
    ];
    let dir = tempfile::tempdir().expect("dir");
    for (name, fields, expected) in cases {
        let object = gitcommit(name, &s.url(), fields);
        let offline = render(dir.path(), &object, &policy);
        s.create_gitcommit(object).await.expect("create");
        match expected {
            Some((field, rule)) => {
                let refused = s
                    .wait_ready(name, "False", Some("PolicyDenied"))
                    .await
                    .expect("the controller refuses");
                let message = refused.status.and_then(|st| st.message).unwrap_or_default();
                let error = offline.expect_err(name);
                for text in [&message, &error] {
                    assert!(
                        text.contains(field) && text.contains(&format!("(rule {rule})")),
                        "{name}: {field} / {rule} not named in:\n{text}"
                    );
                }
            }
            None => {
                let ready = s
                    .wait_ready(name, "True", Some("Succeeded"))
                    .await
                    .expect("the controller accepts");
                assert!(condition(&ready, "Ready").is_some());
                let printed = offline.unwrap_or_else(|e| panic!("{name}: render refused: {e}"));
                assert!(printed.contains("=== exports/a.txt"), "{printed}");
            }
        }
    }
    policies
        .delete(&policy_name, &Default::default())
        .await
        .expect("delete the policy");
}
