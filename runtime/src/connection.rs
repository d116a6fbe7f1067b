//! One accepted connection, served by hyper with the [`Limits`] hyper does not enforce by
//! itself: hyper's header-read timer covers HTTP/1 only, and only once the protocol has been
//! told apart, so a client that sends nothing at all would sit forever; and neither protocol
//! closes a connection that is kept open without being used. A watchdog per connection adds
//! both, counting requests (not bytes, which HTTP/2 pings would keep flowing).

use std::{
    convert::Infallible, future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{Request, Response, StatusCode},
    response::IntoResponse as _,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::watch,
    time::{Instant, sleep_until, timeout},
};
use tower::ServiceExt as _;
use tracing::debug;

use crate::limits::{Limits, Protocols};

/// Timeouts are capped here, so that adding one to the clock cannot overflow.
const LONGEST: Duration = Duration::from_secs(365 * 24 * 3600);
/// HTTP/2 pings find peers that vanished without closing (a node that died): their
/// connection slot is freed within interval + timeout.
const PING_INTERVAL: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// After a graceful close was asked for, how long a client may take to read what is left of
/// the last response before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The requests of one connection, as its watchdog sees them.
#[derive(Clone, Copy, Debug)]
struct Traffic {
    /// Requests that have reached the router so far.
    started: u64,
    /// Requests the router is answering now.
    in_flight: usize,
    /// When `in_flight` last fell to zero (or the connection was accepted).
    quiet_since: Instant,
}

/// Serves `io` until the client closes it or a limit closes it; never fails (errors of one
/// connection are the client's, and are only logged).
pub(crate) async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    protocols: Protocols,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = limits.header_read_timeout.min(LONGEST);
    let idle_timeout = limits.idle_timeout.min(LONGEST);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams.get())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT);
    let builder = match protocols {
        Protocols::Http1 => builder.http1_only(),
        Protocols::Http1AndHttp2 => builder,
    };
    let (traffic, mut watch) = watch::channel(Traffic {
        started: 0,
        in_flight: 0,
        quiet_since: Instant::now(),
    });
    let service = Counted {
        router,
        traffic: Arc::new(traffic),
        request_timeout: limits.request_timeout.min(LONGEST),
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);

    // A first complete request header, however the protocol turns out.
    tokio::select! {
        ended = connection.as_mut() => return log_end(peer, ended),
        first = watch.wait_for(|t| t.started > 0) => drop(first),
        () = sleep_until(Instant::now() + header_read_timeout) => {
            return debug!(%peer, "no request header in time: connection closed");
        }
    }
    // Then: open while in use, closed once idle.
    loop {
        let now = *watch.borrow_and_update();
        tokio::select! {
            ended = connection.as_mut() => return log_end(peer, ended),
            changed = watch.changed() => if changed.is_err() { break },
            () = sleep_until(now.quiet_since + idle_timeout), if now.in_flight == 0 => {
                debug!(%peer, "idle: closing the connection");
                break;
            }
        }
    }
    connection.as_mut().graceful_shutdown();
    match timeout(CLOSE_GRACE, connection).await {
        Ok(ended) => log_end(peer, ended),
        Err(_) => debug!(%peer, "connection did not close in time: dropped"),
    }
}

fn log_end(peer: SocketAddr, ended: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = ended {
        debug!(%peer, %error, "connection ended with an error");
    }
}

/// The router, counting its requests into the connection's [`Traffic`] and bounding each.
#[derive(Clone)]
struct Counted {
    router: Router,
    traffic: Arc<watch::Sender<Traffic>>,
    request_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Counted {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::begin(&self.traffic);
        let (router, limit) = (self.router.clone(), self.request_timeout);
        Box::pin(async move {
            let _in_flight = in_flight;
            match timeout(limit, router.oneshot(request)).await {
                Ok(answered) => answered,
                Err(_) => Ok((StatusCode::REQUEST_TIMEOUT, "request timed out\n").into_response()),
            }
        })
    }
}

/// One request in flight, until dropped: also when hyper drops the request's future because
/// the client went away.
struct InFlight(Arc<watch::Sender<Traffic>>);

impl InFlight {
    fn begin(traffic: &Arc<watch::Sender<Traffic>>) -> Self {
        traffic.send_modify(|t| {
            t.started = t.started.saturating_add(1);
            t.in_flight = t.in_flight.saturating_add(1);
        });
        Self(traffic.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|t| {
            t.in_flight = t.in_flight.saturating_sub(1);
            if t.in_flight == 0 {
                t.quiet_since = Instant::now();
            }
        });
    }
}
