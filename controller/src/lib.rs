//! The git-change-operator controller: rendering objects into files, the git engine that
//! commits and pushes them, and the offline preview.
#![forbid(unsafe_code)]

pub mod conditions;
pub mod controller;
pub mod events;
pub mod flux;
pub mod forge;
pub mod git;
pub mod leader;
pub mod metrics;
pub mod preview;
pub mod references;
pub mod render;
pub mod retry;
pub mod run;
pub mod run_id;
pub mod schedule;
pub mod server;
pub mod telemetry;
pub mod watches;
