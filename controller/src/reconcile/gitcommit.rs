//! GitCommit: deliver a planned change as a commit on the spec's branch.
//!
//! The change is handed to the branch's push lane and coalesced with whatever else is queued
//! there; the lane's answer concludes the run (`handoff.rs`). A run interrupted after its push
//! is found on the branch by its `Gco-Run` trailer instead of being committed again.

use std::time::Duration;

use gco_api::{
    CommitSpec, ExportKind, ExportSpec, ExportStatus, GitCommit, Phase,
    rules::{DEFAULT_COMMIT_MESSAGE, Defaults, ExportRequest},
};
use jiff::Timestamp;

use super::{
    Delivering, Exporter, Failure, Outcome,
    driver::Reconcile,
    plan::{Delivery, requeue_at},
};
use crate::git::Credentials;

impl Exporter for GitCommit {
    const KIND: ExportKind = ExportKind::GitCommit;
    const DONE: Phase = Phase::Committed;
    const IDEMPOTENT_DELIVERY: bool = true;
    type Status = ExportStatus;

    fn export(&self) -> &ExportSpec {
        &self.spec.export
    }
    fn auth_secret(&self) -> Option<&str> {
        self.spec.auth.as_ref().map(|a| a.secret_name.as_str())
    }
    fn commit_spec(&self) -> Option<&CommitSpec> {
        self.spec.commit.as_ref()
    }
    fn default_message(&self, _at: Timestamp) -> Result<String, Failure> {
        Ok(DEFAULT_COMMIT_MESSAGE.to_owned())
    }
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a> {
        ExportRequest::git_commit(namespace, &self.spec).named_if(self.metadata.name.as_deref())
    }
    fn fill_defaults(&mut self, defaults: &Defaults) {
        defaults.fill_git_commit(&mut self.spec);
    }
    fn destination(&self) -> (&str, String) {
        let repository = &self.spec.repository;
        (&repository.url, repository.branch().to_owned())
    }
    fn current_status(&self) -> ExportStatus {
        self.status.clone().unwrap_or_default()
    }
    fn time_to_live(&self) -> Option<Duration> {
        self.spec
            .ttl_seconds_after_finished
            .map(|seconds| Duration::from_secs(seconds.into()))
    }

    async fn deliver(
        reconcile: &mut Reconcile<'_, Self>,
        _delivery: &Delivery,
        _credentials: &Credentials,
    ) -> Delivering {
        let repository = &reconcile.object.spec.repository;
        Delivering::ToLane {
            url: repository.url.clone(),
            branch: repository.branch().to_owned(),
        }
    }

    async fn look_around(
        reconcile: &mut Reconcile<'_, Self>,
        next_tick: Option<Timestamp>,
    ) -> Outcome {
        Outcome::Idle {
            then: requeue_at(next_tick, reconcile.now),
        }
    }
}
