//! The webhook's HTTP surface. The admission routes are served over TLS only: anyone who can
//! post an AdmissionReview chooses its `userInfo`, so on a plain port they would learn any
//! user's permissions and make the webhook send SubjectAccessReviews for them. The plain port
//! gets [`probe_routes`] alone.
//!
//! TLS is a handshake in front of [`gco_runtime::serve`]'s accept loop (connection cap and
//! timeouts), because rustls chooses the certificate per handshake ([`crate::tls::CertStore`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
pub use gco_runtime::{Limits, Readiness};
use gco_runtime::{Protocols, probes};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tracing::debug;

use crate::{
    cluster::Cluster,
    review::{Endpoint, Webhook},
};

/// Largest AdmissionReview accepted: an object near etcd's limit, sent twice (object and
/// oldObject), with room to spare.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// `/mutate` and `/validate`: for the TLS listener only.
pub fn admission_routes<C: Cluster>(webhook: Arc<Webhook<C>>) -> Router {
    Router::new()
        .route("/mutate", post(mutate::<C>))
        .route("/validate", post(validate::<C>))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(webhook)
}

/// `/healthz`, `/readyz` (from `readiness`) and `/metrics` (the webhook's registry): all a
/// plain-HTTP port serves.
pub fn probe_routes<C: Cluster>(webhook: &Webhook<C>, readiness: Readiness) -> Router {
    let metrics = webhook.metrics.clone();
    probes::router(readiness, move || metrics.render())
}

/// What the TLS listener serves: the admission routes, and the probes for a deployment that
/// runs without a plain port.
pub fn router<C: Cluster>(webhook: Arc<Webhook<C>>, readiness: Readiness) -> Router {
    let probes = probe_routes(&webhook, readiness);
    admission_routes(webhook).merge(probes)
}

async fn mutate<C: Cluster>(State(webhook): State<Arc<Webhook<C>>>, body: Bytes) -> Response {
    reply(webhook.review(Endpoint::Mutate, &body).await)
}

async fn validate<C: Cluster>(State(webhook): State<Arc<Webhook<C>>>, body: Bytes) -> Response {
    reply(webhook.review(Endpoint::Validate, &body).await)
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

/// Serves `router` over TLS on `listener` until the future is dropped, within `limits`; the
/// TLS handshake, too, must be done within the header-read timeout. Each connection gets the
/// certificate current at its handshake, and HTTP/2 when it asks for it (the apiserver does:
/// one connection carries every concurrent review, instead of a handshake per burst).
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    limits: Limits,
) {
    let acceptor = TlsAcceptor::from(tls);
    let within = limits.header_read_timeout;
    let handshake = move |stream: TcpStream, peer: SocketAddr| {
        let acceptor = acceptor.clone();
        async move { accept(&acceptor, stream, peer, within).await }
    };
    gco_runtime::serve(
        listener,
        router,
        limits,
        Protocols::Http1AndHttp2,
        handshake,
    )
    .await;
}

async fn accept(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    within: Duration,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(within, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
