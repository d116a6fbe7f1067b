//! The operator process: the wiring of `gco-controller run`, leader election and metrics.
//! What the webhook needs too (logging, shutdown, probes, hardened serving) is the
//! `gco-runtime` crate.

pub mod digest_key;
mod leader;
mod lists;
pub mod metrics;
mod operator;
pub mod policies;

pub use leader::LeaderElector;
pub use lists::InitialList;
pub use operator::{OperatorArgs, operate};
