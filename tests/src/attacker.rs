//! A host a hostile tenant controls: it records every request, whatever the method or path, and
//! answers git's and the forges' requests with a Basic challenge, fishing for credentials.
//! Tenant-attack tests point specs at it and assert that no credential ever arrives.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::IntoResponse,
};
use tokio::net::TcpListener;

/// One request the attacker's host received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// Whether `secret` appears anywhere in the request: its URI, a header or the body.
    pub fn carries(&self, secret: &str) -> bool {
        self.uri.to_string().contains(secret)
            || self
                .headers
                .values()
                .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(secret))
            || String::from_utf8_lossy(&self.body).contains(secret)
    }
}

type Log = Arc<Mutex<Vec<Request>>>;

/// The attacker's HTTP server on 127.0.0.1, running on the current tokio runtime.
pub struct AttackerHost {
    addr: SocketAddr,
    log: Log,
}

impl AttackerHost {
    pub async fn start() -> Result<Self> {
        let log = Log::default();
        let app = Router::new().fallback(record).with_state(log.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, log })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The requests that carried an `Authorization` header or any of `secrets`.
    pub fn leaks(&self, secrets: &[&str]) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.headers.contains_key(header::AUTHORIZATION)
                    || secrets.iter().any(|s| r.carries(s))
            })
            .collect()
    }
}

async fn record(
    State(log): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    if let Ok(mut log) = log.lock() {
        log.push(Request {
            method,
            uri,
            headers,
            body,
        });
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"attacker\"")],
        "credentials, please",
    )
}
