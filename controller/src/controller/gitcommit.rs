//! The GitCommit reconciler: read the referenced objects, render, commit, push, report.
//!
//! Level-triggered and idempotent: a reconcile derives the run's identity from its inputs; a
//! run already done for the same inputs is not repeated, and a run interrupted after its push
//! is found on the branch by its `Gco-Run` trailer instead of being committed again.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use gco_api::{
    ConditionReason, ConditionType, ExportStatus, GitCommit, Phase, RunResult, RunState,
    placeholders, rules::ExportRequest,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, ResourceExt, runtime::controller::Action};
use tracing::{info, warn};

use super::{
    Context, Error, credentials, reason_of, requested_at,
    status::{judge, remember, write},
};
use crate::{
    conditions::Verdict,
    events::{Announcement, reason},
    git::{Author, Change, GitError, ObjectRef, Outcome, RunId},
    metrics::{ErrorLabels, KindLabels, OperationLabels, ResultLabels},
    references::{ReferenceError, read_all},
    render::{RenderError, render},
    retry::{RetryDecision, RetrySettings},
    run_id::{RunInputs, derive_run_id},
    schedule::Schedule,
    watches::{Owner, OwnerKind},
};

const KIND: &str = "GitCommit";
/// Commit message when the spec names none.
pub const DEFAULT_MESSAGE: &str = "Update from git-change-operator";
/// How often a missing reference is looked for again, besides its watch.
const MISSING_REFERENCE_RECHECK: Duration = Duration::from_secs(300);

pub async fn reconcile(object: Arc<GitCommit>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let action = Run::new(&object, &ctx).reconcile().await;
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

/// One reconcile of one GitCommit.
struct Run<'a> {
    object: &'a GitCommit,
    ctx: &'a Context,
    api: Api<GitCommit>,
    namespace: String,
    name: String,
    owner: Owner,
    generation: i64,
    status: ExportStatus,
    now: Timestamp,
}

impl<'a> Run<'a> {
    fn new(object: &'a GitCommit, ctx: &'a Context) -> Self {
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        Self {
            api: Api::namespaced(ctx.client.clone(), &namespace),
            owner: Owner {
                kind: OwnerKind::GitCommit,
                namespace: namespace.clone(),
                name: name.clone(),
            },
            generation: object.metadata.generation.unwrap_or(0),
            status: object.status.clone().unwrap_or_default(),
            now: Timestamp::now(),
            object,
            ctx,
            namespace,
            name,
        }
    }

    async fn reconcile(mut self) -> Result<Action, Error> {
        let spec = &self.object.spec;
        if spec.export.suspend {
            info!(namespace = %self.namespace, name = %self.name, "suspended");
            return Ok(Action::await_change());
        }
        let requested = requested_at(self.object.annotations());
        let settings = match RetrySettings::from_annotations(self.object.annotations()) {
            Ok(settings) => settings,
            Err(error) => {
                return self
                    .stall(ConditionReason::RenderFailed, error.to_string())
                    .await;
            }
        };
        let schedule = match spec
            .export
            .schedule
            .as_deref()
            .map(Schedule::parse)
            .transpose()
        {
            Ok(schedule) => schedule,
            Err(error) => {
                return self
                    .stall(ConditionReason::RenderFailed, error.to_string())
                    .await;
            }
        };
        if let Err(violations) = self
            .ctx
            .check_policy(&ExportRequest::git_commit(&self.namespace, spec))
        {
            return self
                .stall(ConditionReason::PolicyDenied, violations.to_string())
                .await;
        }
        let created = self
            .object
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0);
        let slot = schedule
            .as_ref()
            .and_then(|s| s.latest_at_or_before(self.now))
            .filter(|slot| created.is_none_or(|c| *slot >= c));
        self.status.next_scheduled_time = schedule
            .as_ref()
            .and_then(|s| s.next_after(self.now))
            .map(Time);
        let next_tick = self.status.next_scheduled_time.as_ref().map(|t| t.0);

        let references = match read_all(
            &self.ctx.client,
            &self.ctx.kinds,
            &self.ctx.watches,
            &spec.export.resource_references,
            &self.namespace,
        )
        .await
        {
            Ok(references) => references,
            Err(error) => {
                let reason = match error {
                    ReferenceError::UnknownKind { .. } => ConditionReason::RenderFailed,
                    ReferenceError::Read { .. } => ConditionReason::ProgressingWithRetry,
                };
                return self.fail(&settings, reason, error.to_string()).await;
            }
        };
        self.ctx.watches.track(
            &self.owner,
            &references
                .iter()
                .map(|r| (r.key.clone(), r.kind.clone()))
                .collect::<Vec<_>>(),
        );

        let run_id = derive_run_id(&RunInputs {
            uid: self.object.metadata.uid.as_deref().unwrap_or_default(),
            generation: self.generation,
            references: references
                .iter()
                .map(|r| (r.key.display(), r.resource_version.clone()))
                .collect(),
            schedule_slot: slot,
            requested_at: requested.as_deref(),
        });
        let previous = self.status.run.clone();
        let same_run = previous
            .as_ref()
            .is_some_and(|run| run.id == run_id.as_str());
        let decided = self.status.observed_generation == Some(self.generation);
        if same_run && decided {
            let done = previous.as_ref().is_some_and(|run| run.done);
            if done || self.is(ConditionType::Stalled) {
                // Nothing changed since this run finished, or since it stalled.
                return Ok(requeue_at(next_tick, self.now));
            }
        }

        let missing: Vec<_> = spec
            .export
            .resource_references
            .iter()
            .zip(&references)
            .filter(|(_, read)| read.object.is_none())
            .collect();
        if let Some((reference, read)) = missing.iter().find(|(r, _)| !r.optional) {
            let message = format!(
                "{} {} does not exist: create it, or mark the reference `optional: true`",
                reference.kind,
                read.key.display()
            );
            self.status.last_handled_reconcile_at = requested;
            self.status.run = None;
            let verdict = Verdict::Retrying {
                reason: ConditionReason::ReferenceNotFound,
                message: message.clone(),
            };
            judge(
                &mut self.status,
                &verdict,
                self.generation,
                Phase::Committed,
                self.now,
            );
            write(&self.api, &self.name, &self.status).await?;
            self.announce_failure(ConditionReason::ReferenceNotFound, message, &run_id)
                .await;
            return Ok(Action::requeue(MISSING_REFERENCE_RECHECK));
        }
        let skipped: Vec<String> = missing.iter().map(|(_, read)| read.key.display()).collect();

        // Record the run before pushing: a retry renders the same instant and finds its commit.
        let at = previous
            .filter(|_| same_run)
            .map_or(self.now, |run| run.time.0);
        self.status.run = Some(RunState {
            id: run_id.as_str().to_owned(),
            time: Time(at),
            done: false,
        });
        self.status.last_handled_reconcile_at = requested;
        let progressing = Verdict::Progressing {
            message: format!("run {run_id} in progress"),
        };
        judge(
            &mut self.status,
            &progressing,
            self.generation,
            Phase::Committed,
            self.now,
        );
        write(&self.api, &self.name, &self.status).await?;

        let objects: Vec<_> = references.into_iter().map(|r| r.object).collect();
        let change = match self.change(&run_id, &objects, at) {
            Ok(change) => change,
            Err(message) => return self.stall(ConditionReason::RenderFailed, message).await,
        };
        let credentials = match credentials(
            &self.ctx.client,
            &self.namespace,
            spec.auth.as_ref().map(|a| a.secret_name.as_str()),
        )
        .await
        {
            Ok(credentials) => credentials,
            Err(error) => {
                return self
                    .fail(
                        &settings,
                        ConditionReason::AuthenticationFailed,
                        error.to_string(),
                    )
                    .await;
            }
        };
        let pushed = Instant::now();
        let repository = &spec.repository;
        let outcome = self
            .ctx
            .engine
            .commit(&repository.url, &repository.branch, &credentials, change)
            .await;
        self.ctx
            .metrics
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
        self.ctx
            .metrics
            .pushes
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
        if self.ctx.crash_after_push && outcome.is_ok() {
            warn!("--crash-after-push: exiting between push and status write");
            std::process::exit(3);
        }
        match outcome {
            Ok(outcome) => self.succeed(&run_id, outcome, &skipped, next_tick).await,
            Err(error) => self.fail_git(&settings, error).await,
        }
    }

    /// Renders the spec into the change for the engine; a message names the field at fault.
    fn change(
        &self,
        run_id: &RunId,
        objects: &[Option<serde_json::Value>],
        at: Timestamp,
    ) -> Result<Change, String> {
        let spec = &self.object.spec;
        let writes = render(&spec.export, objects, at).map_err(|e: RenderError| e.to_string())?;
        let commit = spec.commit.clone().unwrap_or_default();
        let message = commit.message.as_deref().unwrap_or(DEFAULT_MESSAGE);
        let message =
            placeholders::render(message, at).map_err(|e| format!("spec.commit.message: {e}"))?;
        let author = match commit.author.as_deref() {
            Some(author) => {
                Author::parse(author).map_err(|e| format!("spec.commit.author: {e}"))?
            }
            None => Author::operator(),
        };
        Ok(Change {
            object: ObjectRef {
                namespace: self.namespace.clone(),
                kind: KIND.into(),
                name: self.name.clone(),
            },
            run: run_id.clone(),
            author,
            message,
            writes,
        })
    }

    async fn succeed(
        mut self,
        run_id: &RunId,
        outcome: Outcome,
        skipped: &[String],
        next_tick: Option<Timestamp>,
    ) -> Result<Action, Error> {
        let branch = &self.object.spec.repository.branch;
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
        if let Some(run) = self.status.run.as_mut() {
            run.done = true;
        }
        if sha.is_some() {
            self.status.commit_sha = sha.clone();
        }
        self.status.last_sync = Some(Time(self.now));
        remember(&mut self.status, result, sha.as_deref(), self.now);
        judge(
            &mut self.status,
            &Verdict::Succeeded {
                message: message.clone(),
            },
            self.generation,
            Phase::Committed,
            self.now,
        );
        write(&self.api, &self.name, &self.status).await?;
        self.ctx.clear_failures(&self.owner);
        info!(namespace = %self.namespace, name = %self.name, repository = %crate::git::redact::redact_url(&self.object.spec.repository.url), %branch, commit = short, run = %run_id, "{message}");
        if !skipped.is_empty() {
            self.announce(Announcement {
                warning: true,
                reason: reason::REFERENCE_SKIPPED.into(),
                message: format!(
                    "skipped missing optional references: {}",
                    skipped.join(", ")
                ),
                revision: None,
                token: format!("{run_id}-skipped"),
            })
            .await;
        }
        self.announce(Announcement {
            warning: false,
            reason: event_reason.into(),
            message,
            revision: sha.map(|sha| format!("{branch}@sha1:{sha}")),
            token: run_id.to_string(),
        })
        .await;
        Ok(requeue_at(next_tick, self.now))
    }

    async fn fail_git(self, settings: &RetrySettings, error: GitError) -> Result<Action, Error> {
        let reason = reason_of(&error);
        if matches!(reason, ConditionReason::RenderFailed) {
            return self.stall(reason, error.to_string()).await;
        }
        self.fail(settings, reason, error.to_string()).await
    }

    /// A failure that may heal by itself: retried per the retry policy, then stalled.
    async fn fail(
        mut self,
        settings: &RetrySettings,
        reason: ConditionReason,
        message: String,
    ) -> Result<Action, Error> {
        let failures = self.ctx.record_failure(&self.owner);
        // Wrong credentials do not fix themselves quickly: start their backoff at 40 s.
        let weight = if reason == ConditionReason::AuthenticationFailed {
            3
        } else {
            0
        };
        let decision = settings.decide(failures + weight, jitter());
        self.count_error(reason);
        match decision {
            RetryDecision::After(delay) => {
                let text = format!(
                    "{message} (attempt {failures}; retrying in {}s)",
                    delay.as_secs()
                );
                let verdict = Verdict::Retrying {
                    reason,
                    message: text.clone(),
                };
                judge(
                    &mut self.status,
                    &verdict,
                    self.generation,
                    Phase::Committed,
                    self.now,
                );
                remember(&mut self.status, RunResult::Failed, None, self.now);
                write(&self.api, &self.name, &self.status).await?;
                let token = self
                    .status
                    .run
                    .as_ref()
                    .map_or_else(String::new, |r| format!("{}-{failures}", r.id));
                self.announce_failure_text(reason, text, token).await;
                Ok(Action::requeue(delay))
            }
            RetryDecision::Exhausted => {
                let text = format!(
                    "{message} (gave up after {failures} attempts: change the spec or request a reconcile)"
                );
                self.stall(ConditionReason::RetriesExhausted, text).await
            }
        }
    }

    /// A failure that will not heal without a change: Stalled until the spec changes or a
    /// reconcile is requested.
    async fn stall(mut self, reason: ConditionReason, message: String) -> Result<Action, Error> {
        let already = self.status.observed_generation == Some(self.generation)
            && self.status.conditions.iter().any(|c| {
                c.type_ == ConditionType::Stalled.as_str()
                    && c.reason == reason.as_str()
                    && c.message == message
            });
        if already {
            // Re-triggered (a policy or reference changed) but stalled the same way: stay quiet.
            return Ok(Action::await_change());
        }
        if reason != ConditionReason::RetriesExhausted {
            self.count_error(reason);
        }
        let verdict = Verdict::Stalled {
            reason,
            message: message.clone(),
        };
        self.status.last_handled_reconcile_at = requested_at(self.object.annotations());
        judge(
            &mut self.status,
            &verdict,
            self.generation,
            Phase::Committed,
            self.now,
        );
        remember(&mut self.status, RunResult::Failed, None, self.now);
        write(&self.api, &self.name, &self.status).await?;
        self.ctx.clear_failures(&self.owner);
        let token = format!("{}-stalled-{}", self.generation, self.now.as_second());
        self.announce_failure_text(reason, message, token).await;
        Ok(Action::await_change())
    }

    fn count_error(&self, reason: ConditionReason) {
        self.ctx
            .metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: KIND.into(),
                reason: reason.as_str().into(),
            })
            .inc();
    }

    fn is(&self, type_: ConditionType) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.type_ == type_.as_str() && c.status == "True")
    }

    async fn announce_failure(&self, reason: ConditionReason, message: String, run_id: &RunId) {
        self.announce_failure_text(reason, message, run_id.to_string())
            .await;
    }

    async fn announce_failure_text(&self, reason: ConditionReason, message: String, token: String) {
        self.announce(Announcement {
            warning: true,
            reason: reason.as_str().into(),
            message,
            revision: None,
            token,
        })
        .await;
    }

    async fn announce(&self, announcement: Announcement) {
        self.ctx.announcer.announce(self.object, announcement).await;
    }
}

/// Requeue at the next schedule tick, or wait for a change.
fn requeue_at(next_tick: Option<Timestamp>, now: Timestamp) -> Action {
    match next_tick {
        Some(tick) => {
            let wait = tick.duration_since(now).unsigned_abs();
            // A tick is due within the second it names: land just after it.
            Action::requeue(wait + Duration::from_millis(200))
        }
        None => Action::await_change(),
    }
}

/// A number in `[0, 1)` for backoff jitter; it need not be random, only spread.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}
