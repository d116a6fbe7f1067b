//! The thin driver of one reconcile: it gathers what [`plan`](super::plan) decides on, carries
//! the plan out, and ends every path in [`Reconcile::conclude`].

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use gco_api::{RunState, rules};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Preconditions},
    runtime::controller::Action,
};
use tracing::{info, warn};

use super::plan::Written;
use super::{
    Context, Delivering, Error, Exporter, Failure, Outcome,
    conclude::{Facts, judge, settle},
    conditions::Verdict,
    credentials::{self, CredentialsError},
    failure::FailureReason,
    finalize,
    handoff::{self, Claim, HandedIn, Pushed},
    plan::{self, Admitted, Delivery, Plan, Rules},
    requested_at, sealing, signing_key, status,
};
use crate::{
    announce::{Announcement, EventReason},
    git::RunId,
    references::{Identity, Owner, Reader},
    runtime::{
        metrics::{ErrorLabels, KindLabels, ObjectLabels},
        policies::Scope,
    },
};

/// The entry point the controller runtime calls for `K`.
pub async fn reconcile<K: Exporter>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let namespace = object.namespace().unwrap_or_default();
    let Ok(scope) = ctx.policies.scope(&namespace) else {
        return Ok(Action::requeue(NOT_READY_RETRY));
    };
    // The webhook fills what the spec leaves out from the matching policies; the object may
    // have been made while it was off, so the controller fills the same defaults again.
    let defaults = rules::defaults(&object.policy_request(&namespace), &scope.matching());
    let mut object = K::clone(&object);
    object.fill_defaults(&defaults);
    let action = Reconcile::new(&object, &ctx).run(&scope).await;
    ctx.metrics
        .reconcile_duration
        .get_or_create(&KindLabels {
            kind: K::KIND.as_str().into(),
        })
        .observe(started.elapsed().as_secs_f64());
    action
}

/// The status could not be written: the controller runtime tries again shortly.
pub fn error_policy<K: Exporter>(object: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(kind = K::KIND.as_str(), namespace = %object.namespace().unwrap_or_default(), name = %object.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// How soon a reconcile that found the policy caches incomplete is tried again.
const NOT_READY_RETRY: Duration = Duration::from_secs(2);

/// One reconcile of one object.
pub struct Reconcile<'a, K: Exporter> {
    pub ctx: &'a Context,
    pub object: &'a K,
    pub owner: Owner,
    /// The status being built; written only by [`Reconcile::begin`] and
    /// [`Reconcile::conclude`].
    pub status: K::Status,
    pub now: Timestamp,
    /// Whose permissions the reads made for the object use.
    pub identity: Identity,
    /// When the run began: this reconcile, or the one that handed the run to a push lane.
    started: Instant,
}

/// What a conclusion needs to know of how far the reconcile got.
#[derive(Default)]
struct Progress<'a> {
    admitted: Option<&'a Admitted>,
    run: Option<&'a RunId>,
    skipped: &'a [String],
    /// What a delivered run leaves written, for the status.
    written: Option<&'a Written>,
    /// The generation the run was planned for, when a later reconcile concludes it.
    generation: Option<i64>,
}

impl<'a, K: Exporter> Reconcile<'a, K> {
    fn new(object: &'a K, ctx: &'a Context) -> Self {
        Self {
            owner: Owner {
                kind: K::KIND,
                namespace: object.namespace().unwrap_or_default(),
                name: object.name_any(),
            },
            status: object.current_status(),
            now: Timestamp::now(),
            identity: ctx.readers.identity(
                &object.namespace().unwrap_or_default(),
                object.export().service_account_name.as_deref(),
            ),
            object,
            ctx,
            started: Instant::now(),
        }
    }

    async fn run(mut self, scope: &Scope) -> Result<Action, Error> {
        let uid = self.object.meta().uid.as_deref().unwrap_or_default();
        match self.ctx.handoffs.claim(&self.owner, uid) {
            Claim::Free => {}
            // The lane's answer wakes the object; it is then looked at again.
            Claim::Waiting => return Ok(Action::await_change()),
            Claim::Pushed(handed, pushed) => {
                let (then, delivered) = self.conclude_pushed(*handed, pushed).await?;
                if !delivered {
                    // A failed run keeps its back-off; its retry plans whatever changed.
                    return Ok(then);
                }
                // A delivered run: plan at once, on the status just written, whatever changed
                // while the push was under way or came with the wake-up (the scheduler merges
                // triggers). With nothing new, the plan finds the run up to date.
                self.started = Instant::now();
            }
        }
        // The webhook may have been off when the object was made, and policies change: the
        // same rules are evaluated again at every reconcile, and before any cleanup.
        let request = self.object.policy_request(&self.owner.namespace);
        let verdict = scope.check(&request);
        if self.object.meta().deletion_timestamp.is_some() {
            return finalize::on_deletion(self, verdict.is_ok()).await;
        }
        let admitted = match plan::admit(self.object, verdict, self.now) {
            Ok(admitted) => admitted,
            Err(plan) => {
                let admitted = Admitted::default_for(self.object);
                return self.carry_out(plan, &admitted).await;
            }
        };
        // Only an admitted object gets the finalizer: its cleanup would contact its forge.
        finalize::keep_in_step(&self).await?;
        self.status.as_mut().next_scheduled_time = admitted.next_tick.map(Time);
        let references = match self.reader() {
            Ok(reader) => {
                self.ctx
                    .references
                    .read(
                        &reader,
                        &self.owner,
                        &self.object.export().resource_references,
                        rules::max_files(&scope.matching()),
                    )
                    .await
            }
            Err(failure) => {
                let plan = Plan::Fail { failure, run: None };
                return self.carry_out(plan, &admitted).await;
            }
        };
        // Only a run that encrypts asks for the key (and only its failure is the run's).
        let digest_key = match sealing::encrypts(self.object.export()) {
            true => self.ctx.digest_key.get().await,
            false => Err("nothing is encrypted".to_owned()),
        };
        let plan = plan::plan(
            self.object,
            &admitted,
            references,
            &Rules {
                policies: &scope.matching(),
                digest_key: digest_key.as_ref().map_err(String::as_str),
            },
            self.status.as_ref(),
            self.now,
        );
        self.carry_out(plan, &admitted).await
    }

    async fn carry_out(mut self, plan: Plan, admitted: &Admitted) -> Result<Action, Error> {
        let mut progress = Progress {
            admitted: Some(admitted),
            ..Progress::default()
        };
        match plan {
            Plan::Idle(then) => Ok(then),
            Plan::Expire => self.expire().await,
            Plan::UpToDate { next_tick } => {
                let outcome = K::look_around(&mut self, next_tick).await;
                self.conclude(outcome, progress).await
            }
            Plan::Fail { failure, run } => {
                progress.run = run.as_ref();
                self.conclude(Outcome::Failed(failure), progress).await
            }
            Plan::Deliver(mut delivery) => {
                progress.run = Some(&delivery.run_id);
                progress.skipped = &delivery.skipped;
                progress.written = Some(&delivery.written);
                if delivery.record_first || !K::IDEMPOTENT_DELIVERY {
                    self.begin(&delivery, admitted).await?;
                } else {
                    // Nothing a retry could do twice: the record is written with the
                    // conclusion, one status write instead of two.
                    self.record(&delivery, admitted);
                }
                let credentials = match self.credentials().await {
                    Ok(credentials) => credentials,
                    Err(failure) => return self.conclude(Outcome::Failed(failure), progress).await,
                };
                delivery.change.signing = match self.signing_key().await {
                    Ok(key) => key,
                    Err(failure) => return self.conclude(Outcome::Failed(failure), progress).await,
                };
                match K::deliver(&mut self, &delivery, &credentials).await {
                    Delivering::Done(outcome) => self.conclude(outcome, progress).await,
                    Delivering::ToLane { url, branch } => {
                        self.hand_in(&delivery, admitted, credentials, url, branch);
                        Ok(Action::await_change())
                    }
                }
            }
        }
    }

    /// Hands the run's change to the push lane of `branch`; the lane's answer wakes the
    /// object, and [`Reconcile::conclude_pushed`] concludes the run.
    fn hand_in(
        &self,
        delivery: &Delivery,
        admitted: &Admitted,
        credentials: crate::git::Credentials,
        url: String,
        branch: String,
    ) {
        let Some(recorded) = self.status.as_ref().run.clone() else {
            // `begin` recorded the run just before: it is always there.
            return;
        };
        let mut handed = HandedIn::new(
            self.object.meta().uid.clone().unwrap_or_default(),
            recorded,
            self.object.meta().generation.unwrap_or(0),
            admitted.clone(),
            delivery,
            branch.clone(),
        );
        handed.started = self.started;
        let answer = self.ctx.handoffs.hand_in(self.owner.clone(), handed);
        let change = delivery.change.clone();
        self.ctx
            .engine
            .submit(&url, &branch, credentials, change, answer);
    }

    /// Concludes a run its push lane has answered.
    /// Returns the conclusion's requeue and whether the run delivered.
    async fn conclude_pushed(
        &mut self,
        handed: HandedIn,
        pushed: Pushed,
    ) -> Result<(Action, bool), Error> {
        self.ctx
            .metrics
            .record_git("commit", pushed.elapsed, &pushed.result);
        if self.ctx.crash_after_push && pushed.result.is_ok() {
            warn!("--crash-after-push: exiting between push and status write");
            std::process::exit(3);
        }
        self.started = handed.started;
        // What `begin` wrote, whether or not the cache this reconcile read has seen it.
        let status = self.status.as_mut();
        status.run = Some(handed.recorded.clone());
        status
            .last_handled_reconcile_at
            .clone_from(&handed.admitted.requested);
        let next_tick = handed.admitted.next_tick;
        let outcome = handoff::outcome_of(pushed.result, &handed.branch, next_tick, self.now);
        let progress = Progress {
            admitted: Some(&handed.admitted),
            run: Some(&handed.run),
            skipped: &handed.skipped,
            written: Some(&handed.written),
            generation: Some(handed.generation),
        };
        let delivered = matches!(outcome, Outcome::Delivered(_));
        let then = self.conclude(outcome, progress).await?;
        Ok((then, delivered))
    }

    /// Records the run before it pushes: its identity and the instant its placeholders render.
    /// This is the one status write besides the conclusion: exactly-once needs it, since a
    /// retry after a crash between push and conclusion must render the same instant and find
    /// its commit by the run's trailer.
    async fn begin(&mut self, delivery: &Delivery, admitted: &Admitted) -> Result<(), Error> {
        self.record(delivery, admitted);
        status::write(&self.ctx.client, self.object, &self.status).await
    }

    /// The run's record in the status being built: its identity, its instant, the request it
    /// handles, and `Reconciling`.
    fn record(&mut self, delivery: &Delivery, admitted: &Admitted) {
        let facts = self.facts(&Progress {
            admitted: Some(admitted),
            run: Some(&delivery.run_id),
            ..Progress::default()
        });
        let status = self.status.as_mut();
        status.run = Some(RunState {
            id: delivery.run_id.to_string(),
            time: Time(delivery.at),
            done: false,
        });
        status
            .last_handled_reconcile_at
            .clone_from(&admitted.requested);
        let progressing = Verdict::Progressing {
            message: format!("run {} in progress", delivery.run_id),
        };
        judge(status, &progressing, &facts);
    }

    /// Deletes the object whose `ttlSecondsAfterFinished` has passed, only if it is still the
    /// one judged (its uid), and says so in an event.
    async fn expire(self) -> Result<Action, Error> {
        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), &self.owner.namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: self.object.meta().uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let ttl = self.object.time_to_live().unwrap_or_default().as_secs();
        match api.delete(&self.owner.name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Ok(Action::await_change());
            }
            Err(source) => {
                return Err(Error::Expire {
                    object: format!("{}/{}", self.owner.namespace, self.owner.name),
                    source,
                });
            }
        }
        let message =
            format!("deleted {ttl}s after its last successful run (spec.ttlSecondsAfterFinished)");
        info!(kind = K::KIND.as_str(), namespace = %self.owner.namespace, name = %self.owner.name, "{message}");
        let announcement = Announcement {
            reason: EventReason::Expired,
            message,
            revision: None,
            token: format!(
                "{}-expired",
                self.object.meta().uid.as_deref().unwrap_or_default()
            ),
        };
        self.ctx.announcer.announce(self.object, announcement);
        Ok(Action::await_change())
    }

    /// The client the object's reads use.
    fn reader(&self) -> Result<Reader, Failure> {
        self.ctx
            .readers
            .reader(self.identity.clone())
            .map_err(|error| {
                Failure::new(
                    FailureReason::ProgressingWithRetry,
                    format!("cannot build a client for {}: {error}", self.identity),
                )
            })
    }

    /// The credentials of `spec.auth`, read when a run needs them.
    pub async fn credentials(&self) -> Result<crate::git::Credentials, Failure> {
        let reader = self.reader()?;
        credentials::read(&reader, &self.owner.namespace, self.object.auth_secret())
            .await
            .map_err(Into::into)
    }

    /// The unlocked key of `spec.commit.signingKey`, read like the credentials when a run
    /// needs it; `None` when the spec names none.
    pub async fn signing_key(&self) -> Result<Option<crate::git::SigningKey>, Failure> {
        let reader = self.reader()?;
        let name = self.object.commit_spec().and_then(|c| c.signing_secret());
        signing_key::read(&reader, &self.owner.namespace, name)
            .await
            .map_err(Into::into)
    }

    /// As [`Reconcile::credentials`], telling a missing Secret apart (a deleted object's
    /// cleanup gives up on it rather than retry).
    pub async fn credentials_or_missing(
        &self,
    ) -> Result<crate::git::Credentials, Result<Failure, CredentialsError>> {
        let reader = self.reader().map_err(Ok)?;
        credentials::read(&reader, &self.owner.namespace, self.object.auth_secret())
            .await
            .map_err(|error| match error {
                CredentialsError::Missing { .. } => Err(error),
                other => Ok(other.into()),
            })
    }

    /// The one exit of every reconcile: settles the status, writes it once, counts and
    /// announces the outcome.
    async fn conclude(
        &mut self,
        outcome: Outcome,
        progress: Progress<'_>,
    ) -> Result<Action, Error> {
        let facts = self.facts(&progress);
        let succeeded = matches!(outcome, Outcome::Delivered(_));
        let word = outcome_word(&outcome);
        let settlement = settle(self.status.as_mut(), outcome, &facts);
        self.ctx.set_failures(&self.owner, settlement.failures);
        if let Some(reason) = settlement.error {
            self.ctx
                .metrics
                .reconcile_errors
                .get_or_create(&ErrorLabels {
                    kind: K::KIND.as_str().into(),
                    reason: reason.as_str().into(),
                })
                .inc();
        }
        if settlement.write {
            status::write(&self.ctx.client, self.object, &self.status).await?;
            self.log(word);
            self.record_metrics(succeeded);
        }
        for announcement in settlement.announcements {
            self.ctx.announcer.announce(self.object, announcement);
        }
        Ok(settlement.then)
    }

    fn facts<'p>(&self, progress: &Progress<'p>) -> Facts<'p>
    where
        'a: 'p,
    {
        let admitted = progress.admitted;
        Facts {
            generation: progress
                .generation
                .unwrap_or_else(|| self.object.meta().generation.unwrap_or(0)),
            now: self.now,
            done: K::DONE,
            requested: admitted.and_then(|a| a.requested.as_deref()),
            retry: admitted.map(|a| a.retry).unwrap_or_default(),
            failures: self.ctx.failures_of(&self.owner),
            jitter: jitter(),
            run: progress.run,
            skipped: progress.skipped,
            written: progress.written,
            history_limit: self.object.export().history_limit(),
            time_to_live: self.object.time_to_live(),
        }
    }

    /// The object's Ready state and last success, for per-object alerts.
    fn record_metrics(&self, succeeded: bool) {
        let ready = self
            .status
            .as_ref()
            .conditions
            .iter()
            .any(|c| c.type_ == gco_api::ConditionType::Ready.as_str() && c.status == "True");
        self.ctx.metrics.record_object(
            object_labels(&self.owner),
            ready,
            succeeded.then(|| self.now.as_second()),
        );
    }

    /// One line per concluded run, failures included: the object, where it writes, what
    /// the status now says and how long the run took.
    fn log(&self, outcome: &str) {
        let status = self.status.as_ref();
        let ready = status
            .conditions
            .iter()
            .find(|c| c.type_ == gco_api::ConditionType::Ready.as_str());
        let (ready, reason) =
            ready.map_or(("Unknown", ""), |c| (c.status.as_str(), c.reason.as_str()));
        let message = status.message.as_deref().unwrap_or_default();
        let (kind, namespace, name) = (K::KIND.as_str(), &self.owner.namespace, &self.owner.name);
        let commit = status.commit_sha.as_deref().unwrap_or_default();
        let run = status
            .run
            .as_ref()
            .map(|r| r.id.as_str())
            .unwrap_or_default();
        let (url, branch) = self.object.destination();
        let repository = gco_api::redact_url(url);
        let duration_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if ready == "False" {
            warn!(kind, %namespace, %name, %repository, %branch, outcome, ready, reason, run, duration_ms, "{message}");
        } else {
            info!(kind, %namespace, %name, %repository, %branch, outcome, ready, reason, commit, run, duration_ms, "{message}");
        }
    }
}

/// Used where a plan was refused before it was admitted: the request is still echoed.
impl Admitted {
    fn default_for<K: Exporter>(object: &K) -> Self {
        Self {
            requested: requested_at(object.annotations()),
            ..Self::default()
        }
    }
}

/// The metric labels of one exporting object.
pub fn object_labels(owner: &Owner) -> ObjectLabels {
    ObjectLabels {
        kind: owner.kind.as_str().into(),
        namespace: owner.namespace.clone(),
        name: owner.name.clone(),
    }
}

/// What became of a run, in one word, for the log line.
fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Delivered(delivered) => match delivered.result {
            gco_api::RunResult::Committed => "committed",
            gco_api::RunResult::NoChanges => "no-changes",
            gco_api::RunResult::Failed => "failed",
        },
        Outcome::Failed(_) => "failed",
        Outcome::Noted { .. } => "noted",
        Outcome::Idle { .. } => "idle",
    }
}

/// A number in `[0, 1)` for backoff jitter; it need not be random, only spread.
fn jitter() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}
