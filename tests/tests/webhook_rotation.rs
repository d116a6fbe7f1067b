//! Certificate rotation under load: while 20 clients send dry-run creates through the
//! apiserver (which calls the webhook for each), the serving certificate files are replaced
//! ten times. Not one request may fail.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use gco_tests::{
    admission::{create, setup},
    webhook::WebhookServer,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_certificate_under_load_fails_no_request() {
    let (client, namespace) = setup("wh-rotate").await.expect("setup");
    let object = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": {"name": "load"},
        "spec": {"repository": {"url": "https://github.com/company/repo.git"}, "files": [{"path": "a.txt", "content": "a"}]}
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for _ in 0..20 {
        let (client, namespace, object) = (client.clone(), namespace.clone(), object.clone());
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Err(message) = create(&client, &namespace, &object, true).await {
                    eprintln!("failed during rotation: {message}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let server = WebhookServer::shared();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.rotate().expect("rotate");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client task");
    }
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("{sent} requests during 10 rotations, {failed} failed");
    assert!(sent > 100, "too little load to mean anything: {sent}");
    assert_eq!(failed, 0, "{failed} of {sent} requests failed");
}
