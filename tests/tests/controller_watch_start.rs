//! How the controller's watches start (controller/src/runtime/lists.rs): with a streaming list
//! where the apiserver serves one, and with a list where it refuses them, as Kubernetes 1.33
//! does by default. Either way the objects already there are seen, and so is every later change.

use std::sync::OnceLock;

use gco_tests::{
    scenario::{CONVERGE, Scenario, configmap_fields, gitcommit},
    testenv::ControlPlane,
};
use serde_json::json;

/// A control plane whose apiserver refuses streaming lists.
fn plane_without_streaming_lists() -> &'static ControlPlane {
    static PLANE: OnceLock<ControlPlane> = OnceLock::new();
    PLANE.get_or_init(|| {
        ControlPlane::start_with(&["--feature-gates=WatchList=false"])
            .unwrap_or_else(|error| panic!("the control plane did not start: {error:#}"))
    })
}

/// An object created before the controller starts is exported (the initial list or stream),
/// and a change of its ConfigMap afterwards too (the watch that follows).
async fn exports_what_was_there_and_what_changes(
    s: &mut Scenario,
    flags: &[&str],
    expected_log: &str,
) {
    s.put_configmap("app", &[("value", "one\n")])
        .await
        .expect("configmap");
    s.create_gitcommit(gitcommit(
        "sync",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "app/")] }),
    ))
    .await
    .expect("create");
    s.start_controller("c1", flags).expect("controller");
    s.wait_ready("sync", "True", Some("Succeeded"))
        .await
        .unwrap_or_else(|e| panic!("Ready: {e}\n{}", s.logs()));
    assert_eq!(s.file("app/value").as_deref(), Some("one\n"));

    s.put_configmap("app", &[("value", "two\n")])
        .await
        .expect("change");
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s.file("app/value").as_deref() != Some("two\n") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change was not exported:\n{}",
            s.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let logs = s.logs();
    assert!(
        logs.contains(expected_log),
        "{expected_log:?} missing:\n{logs}"
    );
    assert!(
        !logs.contains("could not tell whether the apiserver serves streaming lists"),
        "{logs}"
    );
}

#[tokio::test]
async fn watches_stream_their_start_where_the_apiserver_serves_streaming_lists() {
    let mut s = Scenario::new("stream").await.expect("scenario");
    exports_what_was_there_and_what_changes(
        &mut s,
        &[],
        "the apiserver serves streaming lists: watches start with one",
    )
    .await;
}

#[tokio::test]
async fn watches_start_with_a_list_where_the_apiserver_refuses_streaming_lists() {
    let mut s = Scenario::on(plane_without_streaming_lists(), "listed")
        .await
        .expect("scenario");
    exports_what_was_there_and_what_changes(
        &mut s,
        &[],
        "the apiserver does not serve streaming lists (its WatchList feature gate is off): watches start with a list",
    )
    .await;
}

/// A watch refused a streaming list after the start-time question said yes (an apiserver
/// replaced by one with the gate off, a kind served elsewhere): it starts again with a list, and
/// so does every later watch.
#[tokio::test]
async fn a_watch_refused_a_streaming_list_starts_again_with_a_list() {
    let mut s = Scenario::on(plane_without_streaming_lists(), "fallback")
        .await
        .expect("scenario");
    exports_what_was_there_and_what_changes(
        &mut s,
        &["--assume-streaming-lists"],
        "the apiserver refused a streaming list: watches start with a list from now on",
    )
    .await;
}
