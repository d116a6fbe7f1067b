//! GitCommit: deliver a planned change as a commit on the spec's branch.
//!
//! The push is coalesced with whatever else is queued for the branch; a run interrupted after
//! its push is found on the branch by its `Gco-Run` trailer instead of being committed again.

use std::time::{Duration, Instant};

use gco_api::{
    CommitSpec, ExportKind, ExportSpec, ExportStatus, GitCommit, Phase, RunResult,
    rules::{DEFAULT_COMMIT_MESSAGE, Defaults, ExportRequest},
};
use jiff::Timestamp;
use tracing::warn;

use super::{
    Exporter, Failure, Outcome,
    conclude::Delivered,
    driver::Reconcile,
    plan::{Delivery, requeue_at},
};
use crate::{
    announce::EventReason,
    git::{self, Credentials},
};

impl Exporter for GitCommit {
    const KIND: ExportKind = ExportKind::GitCommit;
    const DONE: Phase = Phase::Committed;
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
        delivery: &Delivery,
        credentials: &Credentials,
    ) -> Outcome {
        let ctx = reconcile.ctx;
        let repository = &reconcile.object.spec.repository;
        let branch = repository.branch();
        let started = Instant::now();
        let pushed = ctx
            .engine
            .commit(
                &repository.url,
                branch,
                credentials,
                delivery.change.clone(),
            )
            .await;
        ctx.metrics.record_git("commit", started.elapsed(), &pushed);
        if ctx.crash_after_push && pushed.is_ok() {
            warn!("--crash-after-push: exiting between push and status write");
            std::process::exit(3);
        }
        let pushed = match pushed {
            Ok(pushed) => pushed,
            Err(error) => return Outcome::Failed(error.into()),
        };
        let commit = pushed.commit().map(str::to_owned);
        let short = commit.as_deref().map_or("(none)", short_sha);
        let (event, result, message) = match &pushed {
            git::Outcome::Committed { .. } => (
                EventReason::CommitPushed,
                RunResult::Committed,
                format!("committed {short} to {branch}"),
            ),
            git::Outcome::AlreadyApplied { .. } => (
                EventReason::CommitPushed,
                RunResult::Committed,
                format!("committed {short} to {branch} (found on the branch after a restart)"),
            ),
            git::Outcome::NoChanges { .. } => (
                EventReason::NoChanges,
                RunResult::NoChanges,
                format!("no changes: {branch} already holds the rendered files"),
            ),
        };
        Outcome::Delivered(Delivered {
            result,
            revision: commit.as_ref().map(|sha| format!("{branch}@sha1:{sha}")),
            commit,
            message,
            event,
            then: requeue_at(delivery.next_tick, reconcile.now),
        })
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

/// The first 12 hex digits of a commit, as people quote them.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
