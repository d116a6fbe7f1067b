//! The git-change-operator controller. The tree tells the story of a run (see
//! docs/architecture.md):
//!
//! - [`reconcile`]: what one reconcile of a GitCommit or PullRequest decides (a pure plan) and
//!   how it ends (one exit that writes status and announces);
//! - [`references`]: reading the objects a spec references, and watching them for changes;
//! - [`render`]: turning objects and files into the writes of a commit (also offline);
//! - [`seal`]: a Secret's dump encrypted with SOPS to the policies' age recipients;
//! - [`git`]: the engine that commits in memory and pushes without force, coalesced per branch;
//! - [`forge`]: the pull request APIs of GitHub, GitLab and Gitea;
//! - [`announce`]: Kubernetes events and Flux events;
//! - [`runtime`]: the operator process: wiring, leader election, metrics and probes.
#![forbid(unsafe_code)]

pub mod announce;
pub mod forge;
pub mod git;
pub mod reconcile;
pub mod references;
pub mod render;
pub mod runtime;
pub mod seal;
