//! The real `gco-webhook` binary against the real apiserver. Its plain-HTTP port
//! (`--metrics-listen`) serves `/healthz`, `/readyz` and `/metrics` and nothing else: an
//! AdmissionReview posted there, whatever `userInfo` it claims, is a 404, so nobody who
//! reaches the pod learns another user's permissions or makes the webhook run
//! SubjectAccessReviews. The TLS port still admits, and on SIGTERM the webhook reports not
//! ready while it drains, then exits cleanly.

use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

use gco_tests::{
    http_client::{http, over_tls, plain},
    testenv::{ControlPlane, install_crds},
    webhook::WebhookProcess,
};
use tokio::net::TcpStream;

/// A review from a user who claims to be a cluster admin, for an object with an unsafe path.
const FORGED_REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"forged","kind":{"group":"gco.galos.one","version":"v1","kind":"GitCommit"},"resource":{"group":"gco.galos.one","version":"v1","resource":"gitcommits"},"name":"x","namespace":"default","operation":"CREATE","userInfo":{"username":"system:admin","groups":["system:masters"]},"object":{"apiVersion":"gco.galos.one/v1","kind":"GitCommit","metadata":{"name":"x","namespace":"default"},"spec":{"repository":{"url":"https://github.com/a/b","branch":"main"},"files":[{"path":"../escape","content":""}],"resourceReferences":[{"apiVersion":"v1","kind":"Secret","name":"any","strategy":"single-field","field":"token","output":{"path":"s.txt"}}]}}}}"#;

/// Polls `/readyz` on the plain port until it answers `status`.
async fn readyz_becomes(addr: SocketAddr, status: u16, within: Duration, log: &str) {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(stream) = TcpStream::connect(addr).await
            && http(stream, "GET", "/readyz", "").await.status == status
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not answer {status}; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_port_serves_probes_and_metrics_but_never_admission() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");
    install_crds(&client).await.expect("CRDs");
    let dir = plane
        .scratch_dir("webhook-plain-port")
        .expect("scratch dir");
    let webhook = WebhookProcess::start(plane, &dir).expect("start gco-webhook");
    let (tls, metrics) = (webhook.tls, webhook.metrics);
    let mut process = webhook.process;
    let log = webhook.log.to_string_lossy().into_owned();
    readyz_becomes(metrics, 200, Duration::from_secs(60), &log).await;

    // The TLS port admits (and refuses this object on its path).
    let admitted = over_tls(tls, &plane.ca().cert_pem(), "/validate", FORGED_REVIEW).await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    assert!(admitted.body.contains("path-safety"), "{}", admitted.body);

    // The plain port has no admission routes, whatever the method.
    for (method, path) in [
        ("POST", "/validate"),
        ("POST", "/mutate"),
        ("GET", "/validate"),
    ] {
        let refused = plain(metrics, method, path, FORGED_REVIEW).await;
        assert_eq!(refused.status, 404, "{method} {path}: {}", refused.body);
        assert!(
            !refused.body.contains("AdmissionReview"),
            "{}",
            refused.body
        );
    }

    // Probes and metrics answer; the metrics are the webhook's own, counting the review above.
    let health = plain(metrics, "GET", "/healthz", "").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let scraped = plain(metrics, "GET", "/metrics", "").await;
    assert_eq!(scraped.status, 200);
    assert!(
        scraped
            .head
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{}",
        scraped.head
    );
    assert!(
        scraped.body.contains("gco_webhook_admissions_total{")
            && scraped.body.contains(r#"decision="Denied""#),
        "{}",
        scraped.body
    );

    // SIGTERM: not ready at once, still serving while it drains, then a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &process.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    readyz_becomes(metrics, 503, Duration::from_secs(3), &log).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let exited = loop {
        if let Some(exited) = process.try_wait().expect("wait") {
            break exited;
        }
        assert!(
            Instant::now() < deadline,
            "gco-webhook did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exited.success(), "gco-webhook exited with {exited}");
}
