//! Flux alerts with the real thing: Flux's notification-controller (built from the Go module
//! proxy) with the Alert CRD patched by `config/flux/alert-kinds`, a Slack Provider whose
//! address is a local HTTPS sink it trusts through `certSecretRef`, and the gco controller binary
//! sending its events with `--events-addr`. A push arrives as a green Slack message naming the
//! object and carrying the revision, a failure as a red one, and `NoChanges` not at all.

use std::time::Duration;

use gco_tests::{
    flux::{HttpsSink, NotificationController, install_crds},
    scenario::{Scenario, configmap_fields, gitcommit},
    tools::run,
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

/// How long a Slack message may take: controller → notification-controller → sink.
const DELIVERY: Duration = Duration::from_secs(60);

/// The Slack attachments received for `author` (`gitcommit/<name>.<namespace>`).
fn attachments(sink: &HttpsSink, author: &str) -> Vec<Value> {
    sink.received()
        .iter()
        .flat_map(|payload| {
            payload["attachments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|a| a["author_name"] == author)
        .collect()
}

async fn wait_for_attachment(
    sink: &HttpsSink,
    author: &str,
    what: &str,
    logs: impl Fn() -> String,
) -> Value {
    let deadline = tokio::time::Instant::now() + DELIVERY;
    loop {
        if let Some(found) = attachments(sink, author).into_iter().next() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Slack message for {author} ({what}) within {DELIVERY:?}; received: {:?}\n{}",
            sink.received(),
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn field<'a>(attachment: &'a Value, title: &str) -> Option<&'a str> {
    attachment["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)?["value"]
        .as_str()
}

#[tokio::test]
async fn commit_events_reach_slack_through_flux_notification_controller() {
    let mut s = Scenario::new("flux").await.expect("scenario");
    let plane = s.plane;
    install_crds(plane).expect("Flux CRDs with the Alert patch");
    let sink = HttpsSink::start().await.expect("HTTPS sink");

    let ns = s.namespace.clone();
    let ca = sink.ca_pem().replace('\n', "\n    ");
    let flux_objects = format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{ name: slack-ca, namespace: {ns} }}
stringData:
  ca.crt: |
    {ca}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{ name: slack, namespace: {ns} }}
spec:
  type: slack
  address: {address}
  channel: gitops
  certSecretRef: {{ name: slack-ca }}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{ name: git-change-operator, namespace: {ns} }}
spec:
  providerRef: {{ name: slack }}
  eventSeverity: info
  eventSources:
    - {{ kind: GitCommit, name: "*" }}
    - {{ kind: PullRequest, name: "*" }}
"#,
        address = sink.url("services/T000/B000/XXXX"),
    );
    let file = s.work.join("flux-objects.yaml");
    std::fs::write(&file, flux_objects).expect("write");
    // The Alert is accepted only because the patched CRD lists GitCommit and PullRequest.
    run(plane.kubectl().args(["apply", "-f"]).arg(&file)).expect("Provider and Alert");

    // Without the patch the enum refuses any other kind: the patch is what admits ours.
    let other = std::fs::read_to_string(&file)
        .expect("read")
        .replace("kind: PullRequest", "kind: ConfigMap");
    let other_file = s.work.join("flux-objects-other-kind.yaml");
    std::fs::write(&other_file, other).expect("write");
    let refused = plane
        .kubectl()
        .args(["apply", "--dry-run=server", "-f"])
        .arg(&other_file)
        .output()
        .expect("kubectl");
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("Unsupported value"),
        "an Alert for a kind outside the enum was accepted: {}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let notification =
        NotificationController::start(plane, &s.work).expect("notification-controller");
    let events = notification.events_url();
    s.start_controller("c1", &["--events-addr", &events])
        .expect("controller");
    let logs = || {
        format!(
            "{}\n---- notification-controller:\n{}",
            s.logs(),
            notification.log()
        )
    };

    // A push: a green message naming the object, with the revision.
    s.put_configmap("app", &[("app.properties", "color=blue\n")])
        .await
        .expect("cm");
    s.create_gitcommit(gitcommit(
        "pushes",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "config/")] }),
    ))
    .await
    .expect("create");
    s.wait_ready("pushes", "True", Some("Succeeded"))
        .await
        .expect("pushed");
    let sha = s.tip().expect("a commit on main");
    let author = format!("gitcommit/pushes.{ns}");
    let pushed = wait_for_attachment(&sink, &author, "push", logs).await;
    assert_eq!(pushed["color"], "good", "{pushed}");
    assert_eq!(
        field(&pushed, "revision"),
        Some(format!("main@sha1:{sha}").as_str()),
        "{pushed}"
    );
    let received = sink.received();
    assert!(
        received.iter().any(|p| p["channel"] == "gitops"),
        "{received:?}"
    );

    // A change that renders the same files: NoChanges, which must not reach Slack.
    let label = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app", "labels": { "touched": "yes" } } });
    s.configmaps()
        .patch("app", &PatchParams::apply("toucher"), &Patch::Apply(&label))
        .await
        .expect("touch");
    s.wait_gitcommit("pushes", "NoChanges run", |o| {
        o.status.as_ref().is_some_and(|st| {
            st.history
                .first()
                .is_some_and(|h| h.result == gco_api::RunResult::NoChanges)
        })
    })
    .await
    .expect("NoChanges run");

    // A failure: a red message naming the object and the reason.
    s.create_gitcommit(gitcommit(
        "broken",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("does-not-exist", "missing/")] }),
    ))
    .await
    .expect("create");
    s.wait_ready("broken", "False", Some("ReferenceNotFound"))
        .await
        .expect("failed");
    let failed =
        wait_for_attachment(&sink, &format!("gitcommit/broken.{ns}"), "failure", logs).await;
    assert_eq!(failed["color"], "danger", "{failed}");
    assert!(
        failed["text"]
            .as_str()
            .unwrap_or_default()
            .contains("does-not-exist"),
        "{failed}"
    );

    // The failure was sent after the NoChanges run, on the same ordered queue: had NoChanges
    // been forwarded, it would be here by now. Give stragglers a moment anyway.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let for_pushes = attachments(&sink, &author);
    assert_eq!(
        for_pushes.len(),
        1,
        "only the push reaches Slack for `pushes`: {for_pushes:?}"
    );
}
