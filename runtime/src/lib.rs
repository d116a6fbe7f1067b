//! Process plumbing that every git-change-operator binary needs and none should write twice:
//!
//! - [`telemetry`]: the global log subscriber (`--log-format json|text`, `RUST_LOG`);
//! - [`shutdown`]: waiting for SIGTERM or SIGINT, as often as a select loop asks;
//! - [`probes`]: the [`Readiness`] flag and the `/healthz`, `/readyz`, `/metrics` routes;
//! - [`policies`]: the cluster's GitExportPolicies, decoded one by one, failing closed;
//! - [`serve`]: serving an axum router with a cap on connections and timeouts for slow or idle
//!   clients, over plain HTTP/1 ([`serve_plain`]) or over any transport a caller hands in
//!   (the webhook's TLS).
#![forbid(unsafe_code)]

mod connection;
pub mod limits;
pub mod policies;
pub mod probes;
pub mod serve;
pub mod shutdown;
pub mod telemetry;

pub use limits::{Limits, Protocols};

/// The environment variable a Pod's own namespace arrives in (the downward API).
pub const POD_NAMESPACE_ENV: &str = "POD_NAMESPACE";
/// The namespace the operator is installed in when the Pod does not say.
pub const DEFAULT_NAMESPACE: &str = "git-change-operator-system";
pub use probes::Readiness;
pub use serve::{serve, serve_plain, serve_plain_on};
pub use shutdown::Shutdown;
pub use telemetry::LogFormat;
