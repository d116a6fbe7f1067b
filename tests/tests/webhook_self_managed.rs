//! Self-managed certificates against the real apiserver: the webhook creates its CA and
//! serving certificate in a Secret, patches `caBundle` into its configurations, and renews the
//! serving certificate and then the CA while clients keep sending requests — none may fail.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use gco_tests::{
    admission::{create, eventually},
    testenv::{ControlPlane, TEST_MANAGER, install_crds},
};
use gco_webhook::{
    KubeCluster, Webhook,
    server::{self, Limits, Readiness},
    tls::{self, CertStore, self_managed::SelfManaged},
};
use k8s_openapi::api::{
    admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
    core::v1::Secret,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

const NAME: &str = "gco-self-managed";

async fn configurations(client: &Client, port: u16) {
    let webhook = |name: &str, path: &str| {
        json!({
            "name": name,
            "clientConfig": {"url": format!("https://127.0.0.1:{port}{path}")},
            "rules": [{"apiGroups": ["gco.galos.one"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["gitcommits"]}],
            "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 5, "admissionReviewVersions": ["v1"]
        })
    };
    let params = PatchParams::apply(TEST_MANAGER).force();
    let mutating = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": NAME}, "webhooks": [webhook("mutate.gco.galos.one", "/mutate")]});
    let validating = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME}, "webhooks": [webhook("validate.gco.galos.one", "/validate")]});
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Apply(&mutating))
        .await
        .expect("mutating");
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(NAME, &params, &Patch::Apply(&validating))
        .await
        .expect("validating");
}

fn object(path: &str) -> Value {
    json!({"apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": {"name": "sm"},
        "spec": {"repository": {"url": "https://github.com/company/repo.git"}, "files": [{"path": path, "content": ""}]}})
}

/// Sends dry-run creates from 10 clients while `work` runs; returns (sent, failed).
async fn under_load<F: std::future::Future<Output = ()>>(
    client: &Client,
    namespace: &str,
    work: F,
) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, namespace) = (client.clone(), namespace.to_owned());
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Err(message) = create(&client, &namespace, &object("ok.txt"), true).await {
                    eprintln!("failed: {message}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    work.await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client");
    }
    (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_managed_certificates_are_issued_patched_and_rotated_without_failures() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");
    install_crds(&client).await.expect("CRDs");
    let namespace = plane.namespace(&client, "wh-sm").await.expect("namespace");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    configurations(&client, port).await;

    let mut manager = SelfManaged {
        client: client.clone(),
        namespace: namespace.clone(),
        secret_name: "gco-webhook-tls".into(),
        names: vec!["127.0.0.1".into()],
        mutating_webhook: Some(NAME.into()),
        validating_webhook: Some(NAME.into()),
        lifetime: 3600,
        renew_before: 60,
        interval: Duration::from_secs(60),
        propagation: Duration::from_secs(3),
    };
    let store = Arc::new(CertStore::default());
    manager.ensure(&store).await.expect("certificates issued");
    let cluster = KubeCluster::start(client.clone());
    cluster.wait_until_ready().await;
    let router = server::router(Arc::new(Webhook::new(cluster)), Readiness::default());
    let config = tls::server_config(store.clone()).expect("TLS");
    tokio::spawn(server::serve_tls(
        listener,
        config,
        router,
        Limits::default(),
    ));
    eventually(&client, &namespace, &object("../x"), |r| {
        r.as_ref().is_err_and(|m| m.contains("path-safety"))
    })
    .await
    .expect("the apiserver trusts the self-managed CA");

    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let ca_count = |secret: &Secret| {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get("ca.crt"))
            .map(|b| b.0.clone())
            .unwrap_or_default();
        String::from_utf8_lossy(&data)
            .matches("BEGIN CERTIFICATE")
            .count()
    };
    let before = secrets.get("gco-webhook-tls").await.expect("secret");
    assert_eq!(ca_count(&before), 1);

    // Serving certificate renewal (same CA): 2 h before expiry of a 1 h certificate.
    manager.renew_before = 7200;
    let (sent, failed) = under_load(&client, &namespace, async {
        manager.ensure(&store).await.expect("renew")
    })
    .await;
    assert_eq!(
        failed, 0,
        "{failed} of {sent} failed during the serving renewal"
    );
    let renewed = secrets.get("gco-webhook-tls").await.expect("secret");
    assert_ne!(
        renewed.data.as_ref().and_then(|d| d.get("tls.crt")),
        before.data.as_ref().and_then(|d| d.get("tls.crt"))
    );
    assert_eq!(ca_count(&renewed), 1, "the CA is kept");

    // CA renewal: within the CA's renewal window. The bundle carries both CAs.
    manager.renew_before = 10 * 3600 + 60;
    let (sent, failed) = under_load(&client, &namespace, async {
        manager.ensure(&store).await.expect("CA renewal")
    })
    .await;
    assert_eq!(failed, 0, "{failed} of {sent} failed during the CA renewal");
    let rotated = secrets.get("gco-webhook-tls").await.expect("secret");
    assert_eq!(
        ca_count(&rotated),
        2,
        "new and previous CA are both trusted"
    );
    let configuration = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(NAME)
        .await
        .expect("configuration");
    let bundle = configuration
        .webhooks
        .and_then(|w| w.into_iter().next())
        .and_then(|w| w.client_config.ca_bundle);
    assert_eq!(
        bundle.map(|b| b.0),
        rotated
            .data
            .and_then(|d| d.get("ca.crt").map(|b| b.0.clone()))
    );
}
