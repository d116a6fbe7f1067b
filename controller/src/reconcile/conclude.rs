//! How every reconcile ends. [`settle`] turns an [`Outcome`] into the new status (conditions,
//! phase, message, history), the events to announce, the retry count and the requeue, with no
//! I/O; the driver's `conclude` writes that status once and announces it. No other code
//! writes status, except the record of a run before its push (`driver::Reconcile::begin`).

use std::time::Duration;

use gco_api::{ConditionReason, ConditionType, ExportStatus, Phase, RunRecord, RunResult};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;

use super::plan::Written;
use super::{
    Failure,
    conditions::{self, Verdict},
    expiry,
    failure::Heal,
    retry::{RetryDecision, RetrySettings},
};
use crate::{
    announce::{Announcement, EventReason},
    git::RunId,
};

/// How a reconcile ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The run delivered its change (or found nothing to change): Ready.
    Delivered(Delivered),
    /// The run failed.
    Failed(Failure),
    /// No run concluded, but the kind changed status fields of its own (a pull request was
    /// merged or closed): write them, move no condition, announce nothing.
    Noted { then: Action },
    /// Nothing to record.
    Idle { then: Action },
}

/// A successful run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub result: RunResult,
    /// The commit the status names, if any.
    pub commit: Option<String>,
    /// What happened, for the Ready condition and the event.
    pub message: String,
    pub event: EventReason,
    /// `<branch>@sha1:<sha>`, when the outcome is about a commit.
    pub revision: Option<String>,
    /// When to look again (the next schedule tick, a pull request's merge poll).
    pub then: Action,
}

/// What [`settle`] needs to know besides the status and the outcome.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub generation: i64,
    pub now: Timestamp,
    /// The phase of a successful run of this kind.
    pub done: Phase,
    /// The newest reconcile request annotation, echoed once handled.
    pub requested: Option<&'a str>,
    pub retry: RetrySettings,
    /// Failures in a row before this outcome.
    pub failures: u32,
    /// A number in `[0, 1)` for the backoff's jitter.
    pub jitter: f64,
    /// The run this reconcile attempted, when it got that far.
    pub run: Option<&'a RunId>,
    /// What the run skipped: missing optional references, selectors that matched nothing.
    pub skipped: &'a [String],
    /// What a delivered run leaves written, set in the status when it succeeds.
    pub written: Option<&'a Written>,
    /// How many runs `status.history` keeps (`spec.historyLimit`).
    pub history_limit: usize,
    /// How long after its last successful run the object is deleted, if it is.
    pub time_to_live: Option<Duration>,
}

/// What to do once the status is settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// Whether the status changed and must be written.
    pub write: bool,
    /// Events to announce, in order.
    pub announcements: Vec<Announcement>,
    /// Failures in a row after this outcome (0 forgets them).
    pub failures: u32,
    /// A failure to count in `gco_reconcile_errors_total`, by its reason.
    pub error: Option<ConditionReason>,
    pub then: Action,
}

/// Applies `outcome` to `status`. A finished object with a time to live is looked at again
/// when it expires.
pub fn settle(status: &mut ExportStatus, outcome: Outcome, facts: &Facts<'_>) -> Settlement {
    let mut settlement = apply(status, outcome, facts);
    if let Some(expiry) = expiry::expires_at(facts.time_to_live, status, facts.generation) {
        // Only a Ready object expires, and one with a time to live has no schedule: the
        // requeue replaced is a wait for a change.
        settlement.then = expiry::requeue_until(expiry, facts.now);
    }
    settlement
}

fn apply(status: &mut ExportStatus, outcome: Outcome, facts: &Facts<'_>) -> Settlement {
    match outcome {
        Outcome::Idle { then } => Settlement {
            write: false,
            announcements: Vec::new(),
            failures: facts.failures,
            error: None,
            then,
        },
        Outcome::Noted { then } => Settlement {
            write: true,
            announcements: Vec::new(),
            failures: facts.failures,
            error: None,
            then,
        },
        Outcome::Delivered(delivered) => succeed(status, delivered, facts),
        Outcome::Failed(failure) => match failure.reason.heal() {
            Heal::Stall => stall(
                status,
                failure.reason.condition(),
                failure.message,
                Some(failure.reason.condition()),
                facts,
            ),
            Heal::Recheck(after) => recheck(status, failure, after, facts),
            Heal::Retry => retry(status, failure, facts),
        },
    }
}

fn succeed(status: &mut ExportStatus, delivered: Delivered, facts: &Facts<'_>) -> Settlement {
    let token = facts.run.map(RunId::to_string).unwrap_or_default();
    let mut message = delivered.message;
    let mut announcements = Vec::new();
    if !facts.skipped.is_empty() {
        let skipped = facts.skipped.join(", ");
        message.push_str(&format!("; skipped: {skipped}"));
        announcements.push(Announcement {
            reason: EventReason::ReferenceSkipped,
            message: format!("skipped: {skipped}"),
            revision: None,
            token: format!("{token}-skipped"),
        });
    }
    announcements.push(Announcement {
        reason: delivered.event,
        message: message.clone(),
        revision: delivered.revision,
        token,
    });
    if let Some(run) = status.run.as_mut() {
        run.done = true;
    }
    if let Some(written) = facts.written {
        status.inventory.clone_from(&written.inventory);
        status.encrypted_files.clone_from(&written.encrypted);
    }
    status.last_sync = Some(Time(facts.now));
    if delivered.commit.is_some() {
        status.commit_sha.clone_from(&delivered.commit);
    }
    remember(status, delivered.result, delivered.commit, facts);
    judge(status, &Verdict::Succeeded { message }, facts);
    Settlement {
        write: true,
        announcements,
        failures: 0,
        error: None,
        then: delivered.then,
    }
}

/// A failure that may heal by itself: retried per the retry policy, then stalled.
fn retry(status: &mut ExportStatus, failure: Failure, facts: &Facts<'_>) -> Settlement {
    let reason = failure.reason.condition();
    let failures = facts.failures.saturating_add(1);
    let counted = failures.saturating_add(failure.reason.backoff_head_start());
    match facts.retry.decide(counted, facts.jitter) {
        RetryDecision::After(delay) => {
            let delay = failure.retry_after.map_or(delay, |floor| delay.max(floor));
            let message = format!(
                "{} (attempt {failures}; retrying in {}s)",
                failure.message,
                delay.as_secs()
            );
            judge(
                status,
                &Verdict::Retrying {
                    reason,
                    message: message.clone(),
                },
                facts,
            );
            remember(status, RunResult::Failed, None, facts);
            let token = status
                .run
                .as_ref()
                .map_or_else(String::new, |run| format!("{}-{failures}", run.id));
            Settlement {
                write: true,
                announcements: vec![failed(reason, message, token)],
                failures,
                error: Some(reason),
                then: Action::requeue(delay),
            }
        }
        RetryDecision::Exhausted => {
            let message = format!(
                "{} (gave up after {failures} attempts: change the spec or request a reconcile)",
                failure.message
            );
            // Counted as RetriesExhausted, the reason the object is left with, so that an
            // alert can tell giving up from failing again (docs/controller.md, Alerts).
            stall(
                status,
                ConditionReason::RetriesExhausted,
                message,
                Some(ConditionReason::RetriesExhausted),
                facts,
            )
        }
    }
}

/// A failure that only the spec, or a requested reconcile, can heal.
fn stall(
    status: &mut ExportStatus,
    reason: ConditionReason,
    message: String,
    error: Option<ConditionReason>,
    facts: &Facts<'_>,
) -> Settlement {
    let already = status.observed_generation == Some(facts.generation)
        && status.conditions.iter().any(|c| {
            c.type_ == ConditionType::Stalled.as_str()
                && c.reason == reason.as_str()
                && c.message == message
        });
    if already {
        // Re-triggered (a policy or reference changed) but stalled the same way: stay quiet,
        // but echo a new reconcile request, so whoever asked (`flux reconcile`, `kubectl gco
        // reconcile --wait`) sees it handled rather than waiting for ever.
        let answered = status.last_handled_reconcile_at.as_deref() != facts.requested;
        status.last_handled_reconcile_at = facts.requested.map(str::to_owned);
        return Settlement {
            write: answered,
            announcements: Vec::new(),
            failures: facts.failures,
            error: error.filter(|_| reason == ConditionReason::RetriesExhausted),
            then: Action::await_change(),
        };
    }
    status.last_handled_reconcile_at = facts.requested.map(str::to_owned);
    judge(
        status,
        &Verdict::Stalled {
            reason,
            message: message.clone(),
        },
        facts,
    );
    remember(status, RunResult::Failed, None, facts);
    let token = format!("{}-stalled-{}", facts.generation, facts.now.as_second());
    Settlement {
        write: true,
        announcements: vec![failed(reason, message, token)],
        failures: 0,
        error,
        then: Action::await_change(),
    }
}

/// A cause outside the operator (a missing object): not a run, not counted against the retry
/// policy; looked at again after `after`, or as soon as a watch sees the cause go away.
fn recheck(
    status: &mut ExportStatus,
    failure: Failure,
    after: Duration,
    facts: &Facts<'_>,
) -> Settlement {
    let reason = failure.reason.condition();
    status.last_handled_reconcile_at = facts.requested.map(str::to_owned);
    status.run = None;
    judge(
        status,
        &Verdict::Retrying {
            reason,
            message: failure.message.clone(),
        },
        facts,
    );
    let token = facts.run.map(RunId::to_string).unwrap_or_default();
    Settlement {
        write: true,
        announcements: vec![failed(reason, failure.message, token)],
        failures: facts.failures,
        error: None,
        then: Action::requeue(after),
    }
}

fn failed(reason: ConditionReason, message: String, token: String) -> Announcement {
    Announcement {
        reason: EventReason::Failed(reason),
        message,
        revision: None,
        token,
    }
}

/// Applies a verdict: conditions, message, phase and (for a decided run) `observedGeneration`.
pub fn judge(status: &mut ExportStatus, verdict: &Verdict, facts: &Facts<'_>) {
    conditions::apply(&mut status.conditions, verdict, facts.generation, facts.now);
    status.message = Some(verdict.message().to_owned());
    status.phase = Some(match verdict {
        Verdict::Progressing { .. } => Phase::Running,
        Verdict::Succeeded { .. } => facts.done,
        Verdict::Retrying { .. } | Verdict::Stalled { .. } => Phase::Failed,
    });
    if !matches!(verdict, Verdict::Progressing { .. }) {
        status.observed_generation = Some(facts.generation);
    }
}

/// Records a finished run at the head of `status.history`, keeping the newest
/// `spec.historyLimit`.
fn remember(
    status: &mut ExportStatus,
    result: RunResult,
    commit: Option<String>,
    facts: &Facts<'_>,
) {
    status.history.insert(
        0,
        RunRecord {
            time: Time(facts.now),
            commit_sha: commit,
            result,
        },
    );
    status.history.truncate(facts.history_limit);
}

#[cfg(test)]
mod tests;
