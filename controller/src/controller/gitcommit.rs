//! The GitCommit reconciler: read the referenced objects, render, commit, push, report.
//!
//! Level-triggered and idempotent: a reconcile derives the run's identity from its inputs; a
//! run already done for the same inputs is not repeated, and a run interrupted after its push
//! is found on the branch by its `Gco-Run` trailer instead of being committed again. The
//! steps every export kind shares live in [`super::export`].

use std::{sync::Arc, time::Duration, time::Instant};

use gco_api::{
    CommitSpec, ConditionReason, ExportSpec, ExportStatus, GitCommit, Phase, RunResult,
    rules::ExportRequest,
};
use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};
use tracing::{info, warn};

use super::{
    Context, Error,
    export::{Delivery, ExportKind, Prepared, Run, requeue_at},
    reason_of,
};
use crate::{
    events::{Announcement, reason},
    git::{GitError, Outcome},
    metrics::{KindLabels, OperationLabels, ResultLabels},
    retry::RetrySettings,
    watches::OwnerKind,
};

const KIND: &str = "GitCommit";
/// Commit message when the spec names none.
pub const DEFAULT_MESSAGE: &str = "Update from git-change-operator";

impl ExportKind for GitCommit {
    const KIND: &'static str = KIND;
    const OWNER: OwnerKind = OwnerKind::GitCommit;
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
    fn default_message(&self, _at: Timestamp) -> Result<String, String> {
        Ok(DEFAULT_MESSAGE.to_owned())
    }
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a> {
        ExportRequest::git_commit(namespace, &self.spec)
    }
    fn status_of(&self) -> ExportStatus {
        self.status.clone().unwrap_or_default()
    }
    fn export_status(status: &mut ExportStatus) -> &mut ExportStatus {
        status
    }
    fn export_status_ref(status: &ExportStatus) -> &ExportStatus {
        status
    }
}

pub async fn reconcile(object: Arc<GitCommit>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let action = reconcile_one(Run::new(object.as_ref(), &ctx)).await;
    ctx.metrics
        .reconcile_duration
        .get_or_create(&KindLabels { kind: KIND.into() })
        .observe(started.elapsed().as_secs_f64());
    action
}

pub fn error_policy(object: Arc<GitCommit>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(namespace = %object.namespace().unwrap_or_default(), name = %object.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile_one(mut run: Run<'_, GitCommit>) -> Result<Action, Error> {
    let delivery = match run.prepare().await? {
        Prepared::Done(action) => return Ok(action),
        Prepared::UpToDate { next_tick } => return Ok(requeue_at(next_tick, run.now)),
        Prepared::Deliver(delivery) => *delivery,
    };
    let Delivery {
        settings,
        run_id,
        change,
        credentials,
        skipped,
        next_tick,
        ..
    } = delivery;
    let (ctx, repository) = (run.ctx, &run.object.spec.repository);
    let pushed = Instant::now();
    let outcome = ctx
        .engine
        .commit(&repository.url, &repository.branch, &credentials, change)
        .await;
    ctx.metrics
        .git_operation_duration
        .get_or_create(&OperationLabels {
            operation: "commit".into(),
        })
        .observe(pushed.elapsed().as_secs_f64());
    let result = match &outcome {
        Ok(Outcome::Committed { .. }) => "committed",
        Ok(Outcome::NoChanges { .. }) => "no-changes",
        Ok(Outcome::AlreadyApplied { .. }) => "already-applied",
        Err(_) => "failed",
    };
    ctx.metrics
        .pushes
        .get_or_create(&ResultLabels {
            result: result.into(),
        })
        .inc();
    if ctx.crash_after_push && outcome.is_ok() {
        warn!("--crash-after-push: exiting between push and status write");
        std::process::exit(3);
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => return fail_git(run, &settings, error).await,
    };

    let branch = repository.branch.clone();
    let sha = outcome.commit().map(str::to_owned);
    let short = sha.as_deref().map_or("(none)", |s| &s[..s.len().min(12)]);
    let (event_reason, result, mut message) = match &outcome {
        Outcome::Committed { .. } => (
            reason::COMMIT_PUSHED,
            RunResult::Committed,
            format!("committed {short} to {branch}"),
        ),
        Outcome::AlreadyApplied { .. } => (
            reason::COMMIT_PUSHED,
            RunResult::Committed,
            format!("committed {short} to {branch} (found on the branch after a restart)"),
        ),
        Outcome::NoChanges { .. } => (
            reason::NO_CHANGES,
            RunResult::NoChanges,
            format!("no changes: {branch} already holds the rendered files"),
        ),
    };
    if !skipped.is_empty() {
        message.push_str(&format!(
            "; skipped missing optional references: {}",
            skipped.join(", ")
        ));
    }
    if sha.is_some() {
        run.status.commit_sha = sha.clone();
    }
    info!(namespace = %run.namespace, name = %run.name, repository = %crate::git::redact::redact_url(&repository.url), %branch, commit = short, run = %run_id, "{message}");
    let announcement = Announcement {
        warning: false,
        reason: event_reason.into(),
        message: message.clone(),
        revision: sha.as_ref().map(|sha| format!("{branch}@sha1:{sha}")),
        token: run_id.to_string(),
    };
    let now = run.now;
    run.finish(
        result,
        sha.as_deref(),
        message,
        &skipped,
        Some(announcement),
        &run_id,
    )
    .await?;
    Ok(requeue_at(next_tick, now))
}

async fn fail_git(
    mut run: Run<'_, GitCommit>,
    settings: &RetrySettings,
    error: GitError,
) -> Result<Action, Error> {
    let reason = reason_of(&error);
    if matches!(reason, ConditionReason::RenderFailed) {
        return run.stall(reason, error.to_string()).await;
    }
    run.fail(settings, reason, error.to_string()).await
}
