//! The operator process: the wiring of `gco-controller run`, leader election, metrics and the
//! probe endpoints.

mod leader;
pub mod metrics;
mod operator;
mod server;
pub mod telemetry;

pub use leader::LeaderElector;
pub use operator::{OperatorArgs, operate};
