//! The TLS listener's limits over real sockets: a client that opens a connection and sends
//! no complete request header, before or after the TLS handshake, is disconnected after the
//! header-read timeout given to the server, and HTTP/2 clients are told the stream limit.

use std::{
    net::SocketAddr,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use gco_webhook::{
    Webhook,
    fixed::FixedCluster,
    server::{self, Limits, Readiness},
    tls::{self, CertStore, certified_key, self_managed::Bundle},
};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsConnector, client::TlsStream};

/// Short, so that the tests wait a moment, not the production ten seconds.
const HEADER_TIMEOUT: Duration = Duration::from_millis(400);
/// Far more than any limit above: a test that waits this long has failed.
const PATIENCE: Duration = Duration::from_secs(5);
const STREAMS: u32 = 7;

/// A webhook over TLS with short timeouts; returns its address and the CA to trust.
async fn start() -> (SocketAddr, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bundle = Bundle::generate(&["127.0.0.1".to_owned()], 3600, None).expect("certificates");
    let store = Arc::new(CertStore::default());
    store.set(certified_key(bundle.cert_pem.as_bytes(), bundle.key_pem.as_bytes()).expect("key"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let webhook = Arc::new(Webhook::new(FixedCluster::default()));
    let limits = Limits {
        max_concurrent_streams: NonZeroU32::new(STREAMS).expect("not zero"),
        ..Limits::new(HEADER_TIMEOUT, Duration::from_secs(60))
    };
    let config = tls::server_config(store).expect("TLS config");
    let router = server::router(webhook, Readiness::default());
    tokio::spawn(server::serve_tls(listener, config, router, limits));
    (addr, bundle.ca_bundle_pem)
}

async fn connect(addr: SocketAddr, ca_pem: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA added");
    }
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake")
}

/// Reads until the server closes the connection; returns how long that took.
async fn closed_after<S: AsyncRead + Unpin>(stream: &mut S) -> Duration {
    let started = Instant::now();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    started.elapsed()
}

fn assert_not_early(after: Duration, what: &str) {
    assert!(
        after >= HEADER_TIMEOUT - Duration::from_millis(50),
        "{what}: closed too early, after {after:?}"
    );
}

#[tokio::test]
async fn a_client_without_a_handshake_is_disconnected_after_the_header_timeout() {
    let (addr, _) = start().await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    assert_not_early(closed_after(&mut tcp).await, "no handshake");
}

#[tokio::test]
async fn a_client_without_a_complete_header_is_disconnected_after_the_header_timeout() {
    let (addr, ca) = start().await;
    for (what, alpn, sent) in [
        ("nothing over HTTP/1.1", &[b"http/1.1".as_slice()], ""),
        (
            "half a header",
            &[b"http/1.1".as_slice()],
            "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
        ),
        (
            "an HTTP/2 preface and no request",
            &[b"h2".as_slice()],
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
        ),
    ] {
        let mut tls = connect(addr, &ca, alpn).await;
        tls.write_all(sent.as_bytes()).await.expect("write");
        tls.flush().await.expect("flush");
        assert_not_early(closed_after(&mut tls).await, what);
    }
}

#[tokio::test]
async fn http2_clients_are_told_the_stream_limit() {
    let (addr, ca) = start().await;
    let mut tls = connect(addr, &ca, &[b"h2"]).await;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("preface");
    tls.flush().await.expect("flush");
    // The server's first frame is its SETTINGS: 9-byte header, then 6-byte (id, value) pairs.
    let mut header = [0u8; 9];
    tls.read_exact(&mut header).await.expect("frame header");
    assert_eq!(header[3], 4, "a SETTINGS frame");
    let length =
        usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    let mut payload = vec![0u8; length];
    tls.read_exact(&mut payload).await.expect("frame payload");
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    // SETTINGS_MAX_CONCURRENT_STREAMS is 0x3.
    assert!(settings.contains(&(0x3, STREAMS)), "{settings:?}");
}
