//! What every export kind's reconcile shares (DESIGN §4): triggers, the policy re-check,
//! references and their watches, the run id, the status discipline, retries and events.
//!
//! A kind's reconciler calls [`Run::prepare`], which settles everything up to the rendered
//! [`Change`] and the credentials, then delivers the change its own way (a commit on a branch,
//! or a head branch and a pull request) and reports through [`Run::finish`], [`Run::fail`]
//! or [`Run::stall`].

use std::{
    fmt::Debug,
    time::{Duration, SystemTime},
};

use gco_api::{
    CommitSpec, ConditionReason, ConditionType, ExportSpec, ExportStatus, Phase, RunResult,
    RunState, placeholders, rules::ExportRequest,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, Resource, ResourceExt, runtime::controller::Action};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    Context, Error, credentials, requested_at,
    status::{judge, remember, write},
};
use crate::{
    conditions::Verdict,
    events::Announcement,
    git::{Author, Change, Credentials, ObjectRef, RunId},
    metrics::ErrorLabels,
    references::{ReferenceError, read_all},
    render::{RenderError, render},
    retry::{RetryDecision, RetrySettings},
    run_id::{RunInputs, derive_run_id},
    schedule::Schedule,
    watches::{Owner, OwnerKind},
};

/// How often a missing reference is looked for again, besides its watch.
const MISSING_REFERENCE_RECHECK: Duration = Duration::from_secs(300);

/// A kind that exports files and objects to Git: GitCommit or PullRequest.
pub trait ExportKind:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The Kubernetes kind name.
    const KIND: &'static str;
    const OWNER: OwnerKind;
    /// The phase of a successful run.
    const DONE: Phase;
    /// The whole status; [`ExportStatus`] is the part every kind has.
    type Status: Serialize + Clone + Default + Send + Sync;

    fn export(&self) -> &ExportSpec;
    fn auth_secret(&self) -> Option<&str>;
    fn commit_spec(&self) -> Option<&CommitSpec>;
    /// The commit message when the spec names none, rendered at `at`.
    fn default_message(&self, at: Timestamp) -> Result<String, String>;
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a>;
    fn status_of(&self) -> Self::Status;
    fn export_status(status: &mut Self::Status) -> &mut ExportStatus;
    fn export_status_ref(status: &Self::Status) -> &ExportStatus;
}

/// What [`Run::prepare`] settled.
pub enum Prepared {
    /// The reconcile is over (suspended, failed, stalled, waiting for a reference).
    Done(Action),
    /// This run already finished for the same inputs; the kind may still look around.
    UpToDate { next_tick: Option<Timestamp> },
    /// A run to deliver.
    Deliver(Box<Delivery>),
}

/// A rendered run, ready for the kind to deliver.
pub struct Delivery {
    pub settings: RetrySettings,
    pub run_id: RunId,
    pub change: Change,
    pub credentials: Credentials,
    /// The instant every placeholder of the run renders.
    pub at: Timestamp,
    /// Missing optional references, for the message and a warning event.
    pub skipped: Vec<String>,
    pub next_tick: Option<Timestamp>,
}

/// One reconcile of one object.
pub struct Run<'a, K: ExportKind> {
    pub object: &'a K,
    pub ctx: &'a Context,
    pub api: Api<K>,
    pub namespace: String,
    pub name: String,
    pub owner: Owner,
    pub generation: i64,
    pub status: K::Status,
    pub now: Timestamp,
}

impl<'a, K: ExportKind> Run<'a, K> {
    pub fn new(object: &'a K, ctx: &'a Context) -> Self {
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        Self {
            api: Api::namespaced(ctx.client.clone(), &namespace),
            owner: Owner {
                kind: K::OWNER,
                namespace: namespace.clone(),
                name: name.clone(),
            },
            generation: object.meta().generation.unwrap_or(0),
            status: object.status_of(),
            now: Timestamp::now(),
            object,
            ctx,
            namespace,
            name,
        }
    }

    pub fn common(&mut self) -> &mut ExportStatus {
        K::export_status(&mut self.status)
    }

    fn common_ref(&self) -> &ExportStatus {
        K::export_status_ref(&self.status)
    }

    /// Everything before delivery: suspend, retry settings, schedule, policy, references,
    /// the run id, the Running status, rendering and credentials.
    pub async fn prepare(&mut self) -> Result<Prepared, Error> {
        let export = self.object.export();
        if export.suspend {
            tracing::info!(namespace = %self.namespace, name = %self.name, kind = K::KIND, "suspended");
            return Ok(Prepared::Done(Action::await_change()));
        }
        let requested = requested_at(self.object.annotations());
        let settings = match RetrySettings::from_annotations(self.object.annotations()) {
            Ok(settings) => settings,
            Err(error) => {
                return self
                    .stall_step(ConditionReason::RenderFailed, error.to_string())
                    .await;
            }
        };
        let schedule = match export.schedule.as_deref().map(Schedule::parse).transpose() {
            Ok(schedule) => schedule,
            Err(error) => {
                return self
                    .stall_step(ConditionReason::RenderFailed, error.to_string())
                    .await;
            }
        };
        if let Err(violations) = self
            .ctx
            .check_policy(&self.object.policy_request(&self.namespace))
        {
            return self
                .stall_step(ConditionReason::PolicyDenied, violations.to_string())
                .await;
        }
        let created = self.object.meta().creation_timestamp.as_ref().map(|t| t.0);
        let now = self.now;
        let slot = schedule
            .as_ref()
            .and_then(|s| s.latest_at_or_before(now))
            .filter(|slot| created.is_none_or(|c| *slot >= c));
        self.common().next_scheduled_time =
            schedule.as_ref().and_then(|s| s.next_after(now)).map(Time);
        let next_tick = self.common_ref().next_scheduled_time.as_ref().map(|t| t.0);

        let references = match read_all(
            &self.ctx.client,
            &self.ctx.kinds,
            &self.ctx.watches,
            &export.resource_references,
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
                return self.fail_step(&settings, reason, error.to_string()).await;
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
            uid: self.object.meta().uid.as_deref().unwrap_or_default(),
            generation: self.generation,
            references: references
                .iter()
                .map(|r| (r.key.display(), r.resource_version.clone()))
                .collect(),
            schedule_slot: slot,
            requested_at: requested.as_deref(),
        });
        let previous = self.common_ref().run.clone();
        let same_run = previous
            .as_ref()
            .is_some_and(|run| run.id == run_id.as_str());
        let decided = self.common_ref().observed_generation == Some(self.generation);
        if same_run && decided {
            if previous.as_ref().is_some_and(|run| run.done) {
                return Ok(Prepared::UpToDate { next_tick });
            }
            if self.is(ConditionType::Stalled) {
                // Nothing changed since this run stalled.
                return Ok(Prepared::Done(requeue_at(next_tick, self.now)));
            }
        }

        let missing: Vec<_> = export
            .resource_references
            .iter()
            .zip(&references)
            .filter(|(_, read)| read.object.is_none())
            .collect();
        if let Some((_, read)) = missing.iter().find(|(r, _)| !r.optional) {
            // The key reads `<namespace>/<Kind>/<name>`: it names the kind already.
            let message = format!(
                "{} does not exist: create it, or mark the reference `optional: true`",
                read.key.display()
            );
            let (generation, now) = (self.generation, self.now);
            let common = self.common();
            common.last_handled_reconcile_at = requested;
            common.run = None;
            let verdict = Verdict::Retrying {
                reason: ConditionReason::ReferenceNotFound,
                message: message.clone(),
            };
            judge(common, &verdict, generation, K::DONE, now);
            write(&self.api, &self.name, &self.status).await?;
            self.announce_failure(
                ConditionReason::ReferenceNotFound,
                message,
                run_id.to_string(),
            )
            .await;
            return Ok(Prepared::Done(Action::requeue(MISSING_REFERENCE_RECHECK)));
        }
        let skipped: Vec<String> = missing.iter().map(|(_, read)| read.key.display()).collect();

        // Record the run before pushing: a retry renders the same instant and finds its commit.
        let at = previous
            .filter(|_| same_run)
            .map_or(self.now, |run| run.time.0);
        let (generation, now) = (self.generation, self.now);
        let common = self.common();
        common.run = Some(RunState {
            id: run_id.as_str().to_owned(),
            time: Time(at),
            done: false,
        });
        common.last_handled_reconcile_at = requested;
        let progressing = Verdict::Progressing {
            message: format!("run {run_id} in progress"),
        };
        judge(common, &progressing, generation, K::DONE, now);
        write(&self.api, &self.name, &self.status).await?;

        let objects: Vec<_> = references.into_iter().map(|r| r.object).collect();
        let change = match self.change(&run_id, &objects, at) {
            Ok(change) => change,
            Err(message) => {
                return self
                    .stall_step(ConditionReason::RenderFailed, message)
                    .await;
            }
        };
        let credentials =
            match credentials(&self.ctx.client, &self.namespace, self.object.auth_secret()).await {
                Ok(credentials) => credentials,
                Err(error) => {
                    return self
                        .fail_step(
                            &settings,
                            ConditionReason::AuthenticationFailed,
                            error.to_string(),
                        )
                        .await;
                }
            };
        Ok(Prepared::Deliver(Box::new(Delivery {
            settings,
            run_id,
            change,
            credentials,
            at,
            skipped,
            next_tick,
        })))
    }

    /// Renders the spec into the change for the engine; a message names the field at fault.
    fn change(
        &self,
        run_id: &RunId,
        objects: &[Option<serde_json::Value>],
        at: Timestamp,
    ) -> Result<Change, String> {
        let writes =
            render(self.object.export(), objects, at).map_err(|e: RenderError| e.to_string())?;
        let commit = self.object.commit_spec().cloned().unwrap_or_default();
        let message = match commit.message.as_deref() {
            Some(message) => placeholders::render(message, at)
                .map_err(|e| format!("spec.commit.message: {e}"))?,
            None => self.object.default_message(at)?,
        };
        let author = match commit.author.as_deref() {
            Some(author) => {
                Author::parse(author).map_err(|e| format!("spec.commit.author: {e}"))?
            }
            None => Author::operator(),
        };
        Ok(Change {
            object: ObjectRef {
                namespace: self.namespace.clone(),
                kind: K::KIND.into(),
                name: self.name.clone(),
            },
            run: run_id.clone(),
            author,
            message,
            writes,
        })
    }

    /// Records a successful run: history, Ready=True with `message`, the status write, the
    /// skipped-reference warning and `announcement`.
    pub async fn finish(
        mut self,
        result: RunResult,
        commit: Option<&str>,
        message: String,
        skipped: &[String],
        announcement: Option<Announcement>,
        run_id: &RunId,
    ) -> Result<(), Error> {
        let (generation, now) = (self.generation, self.now);
        let common = self.common();
        if let Some(run) = common.run.as_mut() {
            run.done = true;
        }
        common.last_sync = Some(Time(now));
        remember(common, result, commit, now);
        judge(
            common,
            &Verdict::Succeeded { message },
            generation,
            K::DONE,
            now,
        );
        write(&self.api, &self.name, &self.status).await?;
        self.ctx.clear_failures(&self.owner);
        if !skipped.is_empty() {
            self.announce(Announcement {
                warning: true,
                reason: crate::events::reason::REFERENCE_SKIPPED.into(),
                message: format!(
                    "skipped missing optional references: {}",
                    skipped.join(", ")
                ),
                revision: None,
                token: format!("{run_id}-skipped"),
            })
            .await;
        }
        if let Some(announcement) = announcement {
            self.announce(announcement).await;
        }
        Ok(())
    }

    async fn fail_step(
        &mut self,
        settings: &RetrySettings,
        reason: ConditionReason,
        message: String,
    ) -> Result<Prepared, Error> {
        self.fail_with(settings, reason, message, None)
            .await
            .map(Prepared::Done)
    }

    async fn stall_step(
        &mut self,
        reason: ConditionReason,
        message: String,
    ) -> Result<Prepared, Error> {
        self.stall(reason, message).await.map(Prepared::Done)
    }

    /// A failure that may heal by itself: retried per the retry policy, then stalled.
    pub async fn fail(
        &mut self,
        settings: &RetrySettings,
        reason: ConditionReason,
        message: String,
    ) -> Result<Action, Error> {
        self.fail_with(settings, reason, message, None).await
    }

    /// As [`Run::fail`], but not sooner than `at_least` (a forge's `Retry-After`).
    pub async fn fail_with(
        &mut self,
        settings: &RetrySettings,
        reason: ConditionReason,
        message: String,
        at_least: Option<Duration>,
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
                let delay = at_least.map_or(delay, |floor| delay.max(floor));
                let text = format!(
                    "{message} (attempt {failures}; retrying in {}s)",
                    delay.as_secs()
                );
                let verdict = Verdict::Retrying {
                    reason,
                    message: text.clone(),
                };
                let (generation, now) = (self.generation, self.now);
                let common = self.common();
                judge(common, &verdict, generation, K::DONE, now);
                remember(common, RunResult::Failed, None, now);
                write(&self.api, &self.name, &self.status).await?;
                let token = self
                    .common_ref()
                    .run
                    .as_ref()
                    .map_or_else(String::new, |r| format!("{}-{failures}", r.id));
                self.announce_failure(reason, text, token).await;
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
    pub async fn stall(
        &mut self,
        reason: ConditionReason,
        message: String,
    ) -> Result<Action, Error> {
        let already = self.common_ref().observed_generation == Some(self.generation)
            && self.common_ref().conditions.iter().any(|c| {
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
        let requested = requested_at(self.object.annotations());
        let (generation, now) = (self.generation, self.now);
        let common = self.common();
        common.last_handled_reconcile_at = requested;
        judge(common, &verdict, generation, K::DONE, now);
        remember(common, RunResult::Failed, None, now);
        write(&self.api, &self.name, &self.status).await?;
        self.ctx.clear_failures(&self.owner);
        let token = format!("{}-stalled-{}", self.generation, self.now.as_second());
        self.announce_failure(reason, message, token).await;
        Ok(Action::await_change())
    }

    pub fn count_error(&self, reason: ConditionReason) {
        self.ctx
            .metrics
            .reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: K::KIND.into(),
                reason: reason.as_str().into(),
            })
            .inc();
    }

    fn is(&self, type_: ConditionType) -> bool {
        self.common_ref()
            .conditions
            .iter()
            .any(|c| c.type_ == type_.as_str() && c.status == "True")
    }

    pub async fn announce_failure(&self, reason: ConditionReason, message: String, token: String) {
        self.announce(Announcement {
            warning: true,
            reason: reason.as_str().into(),
            message,
            revision: None,
            token,
        })
        .await;
    }

    pub async fn announce(&self, announcement: Announcement) {
        self.ctx.announcer.announce(self.object, announcement).await;
    }
}

/// Requeue at the next schedule tick, or wait for a change.
pub fn requeue_at(next_tick: Option<Timestamp>, now: Timestamp) -> Action {
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
