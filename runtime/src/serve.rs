//! Accept loops: a cap on connections held at once, one task per connection, and the
//! per-connection [`Limits`]. [`serve`] takes a handshake, so the webhook's TLS shares the
//! loop; [`serve_plain`] is the plain-HTTP/1 probe and metrics port.

use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use tracing::debug;

use crate::{
    connection::serve_connection,
    limits::{Limits, Protocols},
};

/// After an accept error that is not one client's (out of file descriptors, say), wait this
/// long before the next accept rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on every connection of `listener`, each first passed through `handshake`
/// (which gives up on a connection by returning `None`), until the future is dropped.
///
/// A connection slot is taken before `accept`: beyond [`Limits::max_connections`], clients
/// wait in the kernel's backlog instead of costing a task and a handshake each.
pub async fn serve<H, F, I>(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    protocols: Protocols,
    handshake: H,
) where
    H: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Option<I>> + Send + 'static,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.get().min(Semaphore::MAX_PERMITS),
    ));
    loop {
        // The semaphore is never closed, so this only fails in theory; stop serving then.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                debug!(%error, "accept failed");
                if !is_one_clients(&error) {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (handshake, router) = (handshake.clone(), router.clone());
        tokio::spawn(async move {
            let _slot = slot;
            if let Some(io) = handshake(stream, peer).await {
                serve_connection(io, peer, router, limits, protocols).await;
            }
        });
    }
}

/// Errors that end one client's connection attempt, not the listener's ability to accept.
fn is_one_clients(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` over plain HTTP/1 on `addr` with [`Limits::default`], until the future is
/// dropped; fails only if `addr` cannot be bound.
pub async fn serve_plain(addr: SocketAddr, router: Router) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_plain_on(listener, router, Limits::default()).await;
    Ok(())
}

/// Serves `router` over plain HTTP/1 on a bound `listener` with `limits`.
pub async fn serve_plain_on(listener: TcpListener, router: Router, limits: Limits) {
    let plain = |stream: TcpStream, _peer: SocketAddr| std::future::ready(Some(stream));
    serve(listener, router, limits, Protocols::Http1, plain).await;
}
