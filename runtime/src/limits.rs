//! What a server grants one client: how long it may take to send a request header, how long
//! it may hold a connection without using it, how long a request may take, how many
//! connections the server holds at once and how many requests one HTTP/2 connection may
//! multiplex.

use std::{
    num::{NonZeroU32, NonZeroUsize},
    time::Duration,
};

const MAX_CONNECTIONS: NonZeroUsize = match NonZeroUsize::new(256) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};
const MAX_CONCURRENT_STREAMS: NonZeroU32 = match NonZeroU32::new(100) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// Limits on the clients of one listener. [`Limits::default`] suits both the probe port and
/// the webhook's TLS port; tests shorten the timeouts through [`Limits::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection must deliver a complete request header this soon after it is accepted
    /// (after the TLS handshake, for TLS), and an HTTP/1 connection this soon after its
    /// previous response; otherwise it is closed. Bounds slowloris clients and idle HTTP/1
    /// keep-alive connections.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 gets a GOAWAY
    /// first). Pings do not count as use: a client cannot hold a slot by only pinging.
    pub idle_timeout: Duration,
    /// A request (body included) that has not been answered by then gets a 408; bounds a
    /// client that trickles its body.
    pub request_timeout: Duration,
    /// Connections served at once; further clients wait in the listen backlog until one ends.
    pub max_connections: NonZeroUsize,
    /// Requests in flight on one HTTP/2 connection.
    pub max_concurrent_streams: NonZeroU32,
}

impl Limits {
    /// Limits with the given timeouts and the default connection and stream caps.
    pub fn new(header_read_timeout: Duration, idle_timeout: Duration) -> Self {
        Self {
            header_read_timeout,
            idle_timeout,
            ..Self::default()
        }
    }
}

/// Ten seconds for a header is generous for the apiserver, the kubelet and Prometheus, which
/// all send theirs at once; the apiserver gives a webhook at most 30 s per review, so a request
/// still running after 60 s has nobody waiting for it.
impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            request_timeout: Duration::from_secs(60),
            max_connections: MAX_CONNECTIONS,
            max_concurrent_streams: MAX_CONCURRENT_STREAMS,
        }
    }
}

/// Which HTTP versions a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/1.1 only: probes and scrapers. Without HTTP/2 one client cannot multiplex many
    /// requests past the connection cap.
    Http1,
    /// HTTP/2 when the client starts with its preface (after ALPN `h2`), else HTTP/1.1.
    Http1AndHttp2,
}
