//! An HTTP server that records what is POSTed to it: a stand-in receiver for Flux events and
//! chat webhooks, asserting exactly what the operator sends.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde_json::Value;
use tokio::net::TcpListener;

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
}

/// A recording HTTP server on 127.0.0.1, running on the current tokio runtime.
pub struct HttpSink {
    addr: SocketAddr,
    shared: Shared,
}

impl HttpSink {
    pub async fn start() -> Result<Self> {
        let shared = Shared::default();
        let app = Router::new()
            .route("/", post(record))
            .route("/{*path}", post(record))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared })
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

async fn record(
    State(shared): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut received) = shared.received.lock() {
        received.push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
        });
    }
    StatusCode::ACCEPTED
}
