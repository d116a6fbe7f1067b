//! Real git servers on 127.0.0.1 for tests and benchmarks: smart HTTP(S) through
//! `git http-backend`, `sshd`, `git daemon`, and the git CLI to prepare and inspect
//! repositories. Every process dies with the test binary (see [`crate::procs`]).

pub mod daemon;
pub mod http;
pub mod repos;
pub mod ssh;

pub use daemon::GitDaemon;
pub use repos::{bare_repo, git, log, seed, show, tip};
