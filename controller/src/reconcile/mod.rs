//! One reconcile of a GitCommit or PullRequest, as docs/architecture.md walks it:
//!
//! 1. [`plan`] decides, with no I/O, what this reconcile does: nothing, fail, or deliver a
//!    rendered change ([`plan::admit`] before the references are read, [`plan::plan`] after);
//! 2. the [`driver`] gathers the plan's inputs and carries it out: it reads the references,
//!    records the run before the push (the one status write exactly-once needs), reads the
//!    credentials and hands the change to the kind's delivery ([`pullrequest`]) or, for a
//!    GitCommit ([`gitcommit`]), to the branch's push lane, whose answer a later reconcile
//!    concludes ([`handoff`]);
//! 3. every reconcile ends in [`conclude`]: one function computes conditions, phase, history and
//!    message from the [`Outcome`], writes the status once and announces it.
//!
//! Failures of any layer become one typed [`Failure`]; how each heals is a property of its
//! reason ([`failure`]).

mod conclude;
pub mod conditions;
mod credentials;
mod driver;
mod expiry;
mod exporter;
pub mod failure;
pub mod finalize;
mod gitcommit;
pub mod handoff;
mod plan;
mod prune;
mod pullrequest;
mod retry;
mod run_id;
mod schedule;
mod sealing;
mod signing_key;
mod status;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use kube::Client;

pub use conclude::Outcome;
pub use driver::{error_policy, object_labels, reconcile};
pub use exporter::{Delivering, Exporter};
pub use failure::Failure;

use crate::{
    announce::Announcer,
    git::GitEngine,
    references::{Owner, Readers, References},
    runtime::{metrics::Metrics, policies::Policies},
};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "gco-controller";
/// Annotation Flux's CLI sets to request a reconcile (`flux reconcile`).
pub const FLUX_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// The operator's own annotation to request a reconcile.
pub const GCO_REQUESTED_AT: &str = "gco.galos.one/requestedAt";

/// Everything reconcilers share.
pub struct Context {
    pub client: Client,
    pub engine: GitEngine,
    pub references: References,
    /// The clients reads are made with: the controller's own, or an impersonated
    /// ServiceAccount's.
    pub readers: Readers,
    pub announcer: Announcer,
    pub metrics: Metrics,
    /// Every GitExportPolicy and namespace's labels, for the reconcile-time policy check.
    pub policies: Arc<Policies>,
    /// GitCommit runs handed to a push lane, concluded when the lane answers.
    pub handoffs: Arc<handoff::Handoffs>,
    /// Failures in a row per object, for the retry policy; cleared by a success or a stall.
    pub failures: Mutex<HashMap<Owner, u32>>,
    /// Test hook: exit the process right after a push, before the status write, to prove that
    /// the retry after a crash neither commits nor appends twice.
    pub crash_after_push: bool,
    /// How long after a deletion its cleanup is tried (`--cleanup-timeout-seconds`).
    pub cleanup_timeout: std::time::Duration,
    /// The key of the digests of encrypted files, read when a run first needs it.
    pub digest_key: crate::runtime::digest_key::DigestKeySource,
}

impl Context {
    /// Failures of `owner` in a row so far.
    fn failures_of(&self, owner: &Owner) -> u32 {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(owner).copied().unwrap_or(0)
    }

    /// Sets the failures of `owner` in a row (0 forgets the owner).
    fn set_failures(&self, owner: &Owner, count: u32) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if count == 0 {
            failures.remove(owner);
        } else {
            failures.insert(owner.clone(), count);
        }
    }
}

/// Errors the controller runtime retries on its own: the API server did not take the status.
/// Every failure of the run itself ends in a condition instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of {object}: {source}")]
    StatusWrite {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot update the finalizers of {object}: {source}")]
    Finalizer {
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot delete {object}, expired after spec.ttlSecondsAfterFinished: {source}")]
    Expire {
        object: String,
        #[source]
        source: kube::Error,
    },
}

/// The newest reconcile request: the larger of Flux's and the operator's annotation.
pub fn requested_at(annotations: &BTreeMap<String, String>) -> Option<String> {
    [FLUX_REQUESTED_AT, GCO_REQUESTED_AT]
        .iter()
        .filter_map(|key| annotations.get(*key))
        .max()
        .cloned()
}
