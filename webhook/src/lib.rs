//! The git-change-operator admission webhook.
//!
//! - `/mutate` fills defaults (from the matching GitExportPolicy, else built in) as a JSON patch;
//! - `/validate` runs every rule of [`gco_api::rules`] and, when `requireRequesterAccess`, one
//!   SubjectAccessReview per referenced object for the requesting user;
//! - TLS from cert-manager files (hot-reloaded) or self-managed (generated, stored in a Secret,
//!   `caBundle` patched, rotated before expiry); `/healthz`, `/readyz`, `/metrics`.
//!
//! The review handler ([`review::Webhook::review`]) is plain async Rust over a [`Cluster`], so
//! unit tests, the benchmark and the fuzz target drive it without a network.
#![forbid(unsafe_code)]

pub mod access_cache;
pub mod args;
pub mod cluster;
pub mod fixed;
pub mod metrics;
pub mod mutate;
pub mod review;
pub mod server;
mod spec;

#[cfg(test)]
mod tests;
pub mod tls;
pub mod validate;

pub use args::Args;
pub use cluster::{Cluster, ClusterError, KubeCluster};
pub use review::{Endpoint, Webhook};
