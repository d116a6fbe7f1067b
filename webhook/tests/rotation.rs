//! Certificate rotation without a failed request: clients open a new TLS connection for every
//! review while the certificate is replaced underneath them, from files (cert-manager style)
//! and from the self-managed CA.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use gco_webhook::{
    Webhook,
    fixed::FixedCluster,
    server::{self, Limits, Readiness},
    tls::{self, CertStore, certified_key, files::CertFiles, self_managed::Bundle},
};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"gco.galos.one","version":"v1","kind":"GitCommit"},"resource":{"group":"gco.galos.one","version":"v1","resource":"gitcommits"},"name":"x","namespace":"team","operation":"CREATE","userInfo":{"username":"alice"},"object":{"apiVersion":"gco.galos.one/v1","kind":"GitCommit","metadata":{"name":"x"},"spec":{"repository":{"url":"https://github.com/a/b","branch":"main"},"files":[{"path":"a.txt","content":""}]}}}}"#;

async fn start(store: Arc<CertStore>) -> SocketAddr {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let webhook = Arc::new(Webhook::new(FixedCluster::default()));
    let router = server::router(webhook, Readiness::default());
    let config = tls::server_config(store).expect("TLS config");
    tokio::spawn(server::serve_tls(
        listener,
        config,
        router,
        Limits::default(),
    ));
    addr
}

fn connector(ca_pem: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA added");
    }
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A resumed session skips the certificate: every connection must do a full handshake to
    // see (and verify) the certificate current at that moment.
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// One review over a new connection; returns the serving certificate it saw.
async fn review_once(addr: SocketAddr, connector: &TlsConnector) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let peer = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::post("/validate")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(REVIEW.as_bytes())))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status != 200 || !String::from_utf8_lossy(&body).contains(r#""allowed":true"#) {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(peer)
}

/// Runs 4 client loops while `rotate` is called 20 times; returns the distinct certificates seen.
async fn under_load(addr: SocketAddr, ca_pem: &str, mut rotate: impl FnMut()) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let connector = connector(ca_pem);
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (stop, connector) = (stop.clone(), connector.clone());
        loops.push(tokio::spawn(async move {
            let mut seen = HashSet::new();
            let mut count = 0;
            while !stop.load(Ordering::Relaxed) {
                match review_once(addr, &connector).await {
                    Ok(cert) => seen.insert(cert),
                    Err(error) => panic!("request {count} failed during rotation: {error}"),
                };
                count += 1;
            }
            (seen, count)
        }));
    }
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        rotate();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in loops {
        let (certs, count) = task.await.expect("no request failed");
        seen.extend(certs);
        total += count;
    }
    assert!(total > 50, "too little load: {total}");
    seen.len()
}

fn test_ca() -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rotation test CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let pem = params.self_signed(&key).expect("CA").pem();
    (rcgen::Issuer::new(params, key), pem)
}

fn leaf(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>) -> (String, String) {
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    (
        params.signed_by(&key, issuer).expect("leaf").pem(),
        key.serialize_pem(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_certificates_are_reloaded_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (issuer, ca_pem) = test_ca();
    let write = |(cert, key): (String, String)| {
        // Key, then certificate, each replaced atomically, as the kubelet swaps a Secret volume.
        std::fs::write(dir.path().join("k.tmp"), key).expect("write");
        std::fs::rename(dir.path().join("k.tmp"), dir.path().join("tls.key")).expect("rename");
        std::fs::write(dir.path().join("c.tmp"), cert).expect("write");
        std::fs::rename(dir.path().join("c.tmp"), dir.path().join("tls.crt")).expect("rename");
    };
    write(leaf(&issuer));
    let store = Arc::new(CertStore::default());
    let files = CertFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
        interval: Duration::from_millis(20),
    };
    files.load(&store).await.expect("load");
    tokio::spawn(files.watch(store.clone()));
    let addr = start(store).await;
    let distinct = under_load(addr, &ca_pem, || write(leaf(&issuer))).await;
    assert!(
        distinct > 5,
        "the reloaded certificates were served: {distinct}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_managed_renewals_chain_to_the_same_ca() {
    let names = vec!["127.0.0.1".to_owned(), "gco-webhook.gco.svc".to_owned()];
    let mut bundle = Bundle::generate(&names, 3600, None).expect("generate");
    let store = Arc::new(CertStore::default());
    store.set(certified_key(bundle.cert_pem.as_bytes(), bundle.key_pem.as_bytes()).expect("key"));
    let addr = start(store.clone()).await;
    let ca = bundle.ca_bundle_pem.clone();
    let distinct = under_load(addr, &ca, || {
        bundle.renew(&names, 3600).expect("renew");
        store.set(
            certified_key(bundle.cert_pem.as_bytes(), bundle.key_pem.as_bytes()).expect("key"),
        );
    })
    .await;
    assert!(distinct > 5, "renewed certificates were served: {distinct}");
}
