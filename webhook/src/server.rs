//! The HTTPS server: an axum router behind a hand-written rustls accept loop, because the
//! certificate is chosen per handshake ([`crate::tls::CertStore`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use crate::{
    cluster::Cluster,
    review::{Endpoint, Webhook},
};

/// Largest AdmissionReview accepted: an object near etcd's limit, sent twice (object and
/// oldObject), with room to spare.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the routes share.
pub struct AppState<C> {
    pub webhook: Webhook<C>,
    /// Whether `/readyz` answers 200: policies listed and a certificate loaded.
    pub ready: Box<dyn Fn() -> bool + Send + Sync>,
}

/// The routes: `/mutate`, `/validate`, `/healthz`, `/readyz`, `/metrics`.
pub fn router<C: Cluster>(state: Arc<AppState<C>>) -> Router {
    Router::new()
        .route("/mutate", post(mutate::<C>))
        .route("/validate", post(validate::<C>))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz::<C>))
        .route("/metrics", get(metrics::<C>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn mutate<C: Cluster>(State(state): State<Arc<AppState<C>>>, body: Bytes) -> Response {
    reply(state.webhook.review(Endpoint::Mutate, &body).await)
}

async fn validate<C: Cluster>(State(state): State<Arc<AppState<C>>>, body: Bytes) -> Response {
    reply(state.webhook.review(Endpoint::Validate, &body).await)
}

fn reply(reply: crate::review::Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status == StatusCode::OK {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, content_type)], reply.body).into_response()
}

async fn readyz<C: Cluster>(State(state): State<Arc<AppState<C>>>) -> Response {
    if (state.ready)() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics<C: Cluster>(State(state): State<Arc<AppState<C>>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.webhook.metrics.render(),
    )
        .into_response()
}

/// Serves `router` over TLS on `listener` until the process ends. Each connection gets the
/// certificate current at its handshake.
pub async fn serve_tls(listener: TcpListener, tls: Arc<ServerConfig>, router: Router) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(%error, "accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => return debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => return debug!(%peer, "TLS handshake timed out"),
            };
            // HTTP/2 when the client offers it (the apiserver does): one connection carries
            // every concurrent review, instead of a TLS handshake per burst.
            let served = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
            if let Err(error) = served {
                debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

/// Serves `router` over plain HTTP (metrics and probes inside the pod network).
pub async fn serve_plain(addr: SocketAddr, router: Router) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    axum::serve(listener, router).await
}
