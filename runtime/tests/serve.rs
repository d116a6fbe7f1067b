//! The hardened server over real sockets: clients that send no header, hold a connection
//! without using it, or take too long are cut off after the limits given to the server, and
//! the connection cap makes further clients wait.

use std::{
    net::SocketAddr,
    num::NonZeroUsize,
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use gco_runtime::{Limits, Protocols, serve, serve_plain_on};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

/// Short, so that the tests wait a moment, not the production ten seconds.
const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const IDLE_TIMEOUT: Duration = Duration::from_millis(400);
/// Far more than any limit above: a test that waits this long has failed.
const PATIENCE: Duration = Duration::from_secs(5);

fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
}

async fn start_plain(limits: Limits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(serve_plain_on(listener, app(), limits));
    addr
}

/// HTTP/1 and HTTP/2 (prior knowledge) over plain TCP, as the webhook serves them over TLS.
async fn start_both(limits: Limits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let plain = |stream: TcpStream, _: SocketAddr| std::future::ready(Some(stream));
    tokio::spawn(serve(
        listener,
        app(),
        limits,
        Protocols::Http1AndHttp2,
        plain,
    ));
    addr
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    (String::from_utf8_lossy(&received).into(), started.elapsed())
}

#[tokio::test]
async fn a_client_that_sends_no_header_is_disconnected_after_the_header_timeout() {
    let limits = Limits::new(HEADER_TIMEOUT, Duration::from_secs(60));
    // Nothing at all, an unfinished header (a slowloris client), and, where HTTP/2 is spoken,
    // its preface with no request after it. Before HTTP/1 and HTTP/2 are told apart, hyper's
    // own header timer is not running yet: only the server's watchdog ends the first cases.
    let silent = "";
    let unfinished = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
    let servers = [
        (start_plain(limits).await, vec![silent, unfinished]),
        (start_both(limits).await, vec![silent, unfinished, preface]),
    ];
    for (addr, cases) in servers {
        for sent in cases {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream.write_all(sent.as_bytes()).await.expect("write");
            let (_, after) = read_until_closed(&mut stream).await;
            assert!(
                after >= HEADER_TIMEOUT - Duration::from_millis(50),
                "closed too early ({after:?}) after {sent:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_complete_request_is_answered_and_an_idle_keep_alive_connection_closed() {
    let addr = start_plain(Limits::new(HEADER_TIMEOUT, IDLE_TIMEOUT)).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let (received, after) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(received.ends_with("ok"), "{received}");
    assert!(after < PATIENCE, "{after:?}");
}

#[tokio::test]
async fn the_plain_port_speaks_no_http2() {
    let addr = start_plain(Limits::new(HEADER_TIMEOUT, IDLE_TIMEOUT)).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The HTTP/2 connection preface with an empty SETTINGS frame (prior knowledge, h2c).
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("write");
    let (received, _) = read_until_closed(&mut stream).await;
    // An HTTP/2 server would answer with its own SETTINGS frame: type 4 in the fourth byte.
    assert!(
        received.as_bytes().get(3) != Some(&4),
        "answered as HTTP/2: {received:?}"
    );
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_a_408() {
    let limits = Limits {
        request_timeout: Duration::from_millis(200),
        ..Limits::new(HEADER_TIMEOUT, IDLE_TIMEOUT)
    };
    let addr = start_plain(limits).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (received, _) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
}

#[tokio::test]
async fn clients_beyond_the_connection_cap_wait_for_a_free_slot() {
    let limits = Limits {
        max_connections: NonZeroUsize::MIN,
        ..Limits::new(Duration::from_secs(30), Duration::from_secs(30))
    };
    let addr = start_plain(limits).await;
    let holder = TcpStream::connect(addr).await.expect("connect");
    // Give the server a moment to accept the first connection and take the only slot.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(addr).await.expect("connect (backlog)");
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buffer)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");
    drop(holder);
    let (received, _) = read_until_closed(&mut waiting).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_although_pings_flow() {
    let addr = start_both(Limits::new(HEADER_TIMEOUT, IDLE_TIMEOUT)).await;
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get("http://x/healthz")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"ok");
    let idle_since = Instant::now();
    let closed = tokio::time::timeout(PATIENCE, connection).await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
    assert!(
        idle_since.elapsed() >= IDLE_TIMEOUT - Duration::from_millis(50),
        "closed before it was idle for long: {:?}",
        idle_since.elapsed()
    );
}
