//! Running the controller: Flux events, leader election, metrics, health and graceful shutdown.

use std::time::Duration;

use gco_controller::reconcile::conditions::{KStatus, kstatus};
use gco_tests::{
    http_sink::HttpSink,
    procs::free_port,
    scenario::{Scenario, condition, configmap_fields, gitcommit},
};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn flux_receives_every_event_but_no_changes_in_its_own_format() {
    let sink = HttpSink::start().await.expect("sink");
    let mut s = Scenario::new("flux").await.expect("scenario");
    s.put_configmap("app", &[("k", "v1")]).await.expect("cm");
    s.start_controller("c1", &["--events-addr", &sink.url()])
        .expect("controller");
    s.create_gitcommit(gitcommit(
        "notify",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "app/")] }),
    ))
    .await
    .expect("create");
    let ready = s
        .wait_ready("notify", "True", Some("Succeeded"))
        .await
        .expect("ready");
    let sha = ready
        .status
        .as_ref()
        .and_then(|st| st.commit_sha.clone())
        .expect("sha");
    assert_eq!(
        kstatus(
            false,
            ready.metadata.generation,
            ready.status.as_ref().and_then(|st| st.observed_generation),
            &ready.status.as_ref().expect("status").conditions
        ),
        KStatus::Current,
        "kstatus reads a successful object as Current"
    );
    wait_for("the CommitPushed event", || !sink.received().is_empty()).await;
    let event = &sink.received()[0].body;
    assert_eq!(
        event["involvedObject"],
        json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "namespace": s.namespace, "name": "notify",
            "uid": ready.metadata.uid.clone().expect("uid")
        })
    );
    assert_eq!(event["severity"], "info");
    assert_eq!(event["reason"], "CommitPushed");
    assert_eq!(event["reportingController"], "git-change-operator");
    assert_eq!(event["reportingInstance"], "c1");
    assert_eq!(
        event["metadata"]["gco.galos.one/revision"],
        json!(format!("main@sha1:{sha}"))
    );
    let token = event["metadata"]["gco.galos.one/token"]
        .as_str()
        .expect("token");
    assert!(!token.is_empty());
    assert!(
        event["message"]
            .as_str()
            .is_some_and(|m| m.contains(&sha[..12])),
        "{event}"
    );
    assert!(
        event["timestamp"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "{event}"
    );

    // A touch renders the same files: NoChanges is recorded but not forwarded.
    let touch = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app", "labels": { "t": "1" } } });
    s.configmaps()
        .patch("app", &PatchParams::apply("toucher"), &Patch::Apply(&touch))
        .await
        .expect("touch");
    s.wait_gitcommit("notify", "a NoChanges run", |o| {
        o.status.as_ref().is_some_and(|st| st.history.len() >= 2)
    })
    .await
    .expect("ran");
    assert_eq!(
        s.events_at_least("NoChanges", 1).await.len(),
        1,
        "a Kubernetes event is recorded"
    );
    // A second change, so the test knows the controller had time to send anything it would.
    s.put_configmap("app", &[("k", "v2")])
        .await
        .expect("change");
    wait_for("the second CommitPushed", || sink.received().len() >= 2).await;
    let reasons: Vec<Value> = sink
        .received()
        .iter()
        .map(|r| r.body["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [json!("CommitPushed"), json!("CommitPushed")],
        "NoChanges never reaches Flux"
    );
    let tokens: Vec<Value> = sink
        .received()
        .iter()
        .map(|r| r.body["metadata"]["gco.galos.one/token"].clone())
        .collect();
    assert_ne!(tokens[0], tokens[1], "distinct runs carry distinct tokens");

    // A failure arrives with severity error.
    s.create_gitcommit(gitcommit(
        "broken",
        &s.url().replace("repo.git", "missing.git"),
        json!({ "files": [{ "path": "f", "content": "x" }] }),
    ))
    .await
    .expect("create");
    wait_for("an error event", || {
        sink.received()
            .iter()
            .any(|r| r.body["severity"] == "error")
    })
    .await;
    let error = sink
        .received()
        .into_iter()
        .find(|r| r.body["severity"] == "error")
        .expect("error event");
    assert_eq!(error.body["involvedObject"]["name"], "broken");
    assert!(
        error.body["metadata"]
            .get("gco.galos.one/revision")
            .is_none(),
        "no revision without a commit"
    );
}

#[tokio::test]
async fn one_leader_reconciles_and_a_standby_takes_over_when_it_dies() {
    let mut s = Scenario::new("ha").await.expect("scenario");
    let lease = [
        "--leader-elect",
        "--leader-election-namespace",
        &s.namespace.clone(),
        "--leader-election-id",
        "gco",
    ];
    s.start_controller("first", &lease).expect("first");
    s.create_gitcommit(gitcommit(
        "one",
        &s.url(),
        json!({ "files": [{ "path": "one", "content": "1" }] }),
    ))
    .await
    .expect("create");
    s.wait_ready("one", "True", None)
        .await
        .expect("the first replica leads");
    // The standby is ready (its caches are filled) though it does not lead: a rolling update
    // with maxUnavailable 0 waits for exactly that.
    let standby_health = format!("127.0.0.1:{}", free_port());
    let mut standby = lease.to_vec();
    standby.extend(["--health-addr", standby_health.as_str()]);
    s.start_controller("second", &standby).expect("second");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        s.controllers[1].log().contains("waiting for leadership"),
        "{}",
        s.logs()
    );
    let (status, _) = http_get(&format!("http://{standby_health}/readyz"))
        .await
        .expect("GET /readyz of the standby");
    assert_eq!(status, 200, "the standby is ready");
    assert!(
        !s.controllers[1].log().contains("became leader"),
        "only one leader:\n{}",
        s.logs()
    );

    s.controllers[0].kill();
    s.create_gitcommit(gitcommit(
        "two",
        &s.url(),
        json!({ "files": [{ "path": "two", "content": "2" }] }),
    ))
    .await
    .expect("create");
    // The lease lasts 15 s without renewal; the standby takes over after it expires.
    s.wait_ready("two", "True", None)
        .await
        .expect("the standby took over");
    assert!(
        s.controllers[1].log().contains("became leader"),
        "{}",
        s.logs()
    );
    assert_eq!(s.file("two").as_deref(), Some("2"));
    assert_eq!(
        s.history().len(),
        2,
        "each change committed once: {:?}",
        s.history()
    );
}

#[tokio::test]
async fn metrics_health_and_a_graceful_shutdown() {
    let mut s = Scenario::new("ops").await.expect("scenario");
    let (metrics_port, health_port) = (free_port(), free_port());
    let (metrics, health) = (
        format!("127.0.0.1:{metrics_port}"),
        format!("127.0.0.1:{health_port}"),
    );
    s.start_controller(
        "c1",
        &["--metrics-addr", &metrics, "--health-addr", &health],
    )
    .expect("controller");
    s.put_configmap("watched", &[("k", "v")]).await.expect("cm");
    let spec = json!({
        "files": [{ "path": "m", "content": "1" }],
        "resourceReferences": [configmap_fields("watched", "w/")]
    });
    s.create_gitcommit(gitcommit("m", &s.url(), spec))
        .await
        .expect("create");
    let ready = s.wait_ready("m", "True", None).await.expect("ready");
    assert!(condition(&ready, "Reconciling").is_none());

    let get = |url: String| async move {
        let response = http_get(&url).await;
        response.unwrap_or_else(|e| panic!("GET {url}: {e}"))
    };
    let (status, _) = get(format!("http://{health}/healthz")).await;
    assert_eq!(status, 200);
    let (status, _) = get(format!("http://{health}/readyz")).await;
    assert_eq!(status, 200);
    let (status, body) = get(format!("http://{metrics}/metrics")).await;
    assert_eq!(status, 200);
    for metric in [
        "gco_reconcile_duration_seconds_count{kind=\"GitCommit\"}",
        "gco_pushes_total{result=\"committed\"} 1",
        "gco_git_operation_duration_seconds_count{operation=\"commit\"} 1",
    ] {
        assert!(body.contains(metric), "no {metric} in:\n{body}");
    }
    assert!(
        body.contains("gco_referenced_objects 1"),
        "one watched reference:\n{body}"
    );

    // Deleting the GitCommit releases its references.
    s.gitcommits()
        .delete("m", &Default::default())
        .await
        .expect("delete");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = get(format!("http://{metrics}/metrics")).await;
        if body.contains("gco_referenced_objects 0") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "references kept after delete:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let exit = s.controllers[0].terminate().expect("SIGTERM");
    assert!(exit.success(), "graceful exit, got {exit}:\n{}", s.logs());
    assert!(s.logs().contains("stopped"), "{}", s.logs());
}

/// A minimal HTTP/1.1 GET over a TCP stream: (status, body).
async fn http_get(url: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
