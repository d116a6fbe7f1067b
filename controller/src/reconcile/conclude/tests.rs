//! [`settle`](super::settle) without a cluster: one row per line of the condition table, plus
//! the outcomes that are not failures.

use std::time::Duration;

use gco_api::{ConditionReason, ConditionType, ExportStatus, Phase, RunResult, RunState};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;

use super::{Delivered, Facts, Outcome, Settlement, settle};
use crate::{
    announce::EventReason,
    git::RunId,
    reconcile::{
        Failure,
        failure::{FailureReason, Heal, MISSING_REFERENCE_RECHECK, condition_table},
        retry::{RetryPolicy, RetrySettings},
    },
};

fn now() -> Timestamp {
    "2026-11-22T13:00:00Z".parse().expect("timestamp")
}

fn run_id() -> RunId {
    RunId::new("0123456789abcdef").expect("run id")
}

fn facts<'a>(run: &'a RunId, skipped: &'a [String]) -> Facts<'a> {
    Facts {
        generation: 3,
        now: now(),
        done: Phase::Committed,
        requested: Some("r1"),
        retry: RetrySettings::default(),
        failures: 0,
        jitter: 0.5,
        run: Some(run),
        skipped,
        written: None,
        history_limit: 10,
        time_to_live: None,
    }
}

/// A status in the middle of a run, as `begin` leaves it.
fn running() -> ExportStatus {
    ExportStatus {
        run: Some(RunState {
            id: run_id().to_string(),
            time: Time(now()),
            done: false,
        }),
        ..Default::default()
    }
}

fn condition(status: &ExportStatus, type_: ConditionType) -> Option<(&str, &str)> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_.as_str())
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

/// The shape every row of the table checks: (Ready, Reconciling, Stalled) statuses.
fn shape(status: &ExportStatus) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        condition(status, ConditionType::Ready).map(|c| c.0),
        condition(status, ConditionType::Reconciling).map(|c| c.0),
        condition(status, ConditionType::Stalled).map(|c| c.0),
    )
}

fn delivered(event: EventReason, result: RunResult, commit: Option<&str>) -> Outcome {
    Outcome::Delivered(Delivered {
        result,
        commit: commit.map(str::to_owned),
        message: "committed abc to main".into(),
        event,
        revision: commit.map(|c| format!("main@sha1:{c}")),
        then: Action::await_change(),
    })
}

#[test]
fn succeeded_is_ready_with_a_normal_event() {
    let run = run_id();
    let mut status = running();
    let settlement = settle(
        &mut status,
        delivered(EventReason::CommitPushed, RunResult::Committed, Some("abc")),
        &Facts {
            failures: 4,
            ..facts(&run, &[])
        },
    );
    assert_eq!(shape(&status), (Some("True"), None, None));
    assert_eq!(
        condition(&status, ConditionType::Ready).map(|c| c.1),
        Some("Succeeded")
    );
    assert_eq!(status.phase, Some(Phase::Committed));
    assert_eq!(status.observed_generation, Some(3));
    assert_eq!(status.commit_sha.as_deref(), Some("abc"));
    assert!(status.run.as_ref().is_some_and(|r| r.done));
    assert_eq!(status.history[0].result, RunResult::Committed);
    assert_eq!(settlement.failures, 0, "a success clears the failures");
    assert_eq!(settlement.error, None);
    assert!(settlement.write);
    let [event] = settlement.announcements.as_slice() else {
        panic!("one event: {:?}", settlement.announcements);
    };
    assert!(!event.reason.is_warning());
    assert_eq!(event.reason, EventReason::CommitPushed);
    assert_eq!(event.token, run.to_string());
    assert_eq!(event.revision.as_deref(), Some("main@sha1:abc"));
}

#[test]
fn no_changes_is_ready_and_keeps_the_last_commit() {
    let run = run_id();
    let mut status = ExportStatus {
        commit_sha: Some("old".into()),
        ..running()
    };
    let settlement = settle(
        &mut status,
        delivered(EventReason::NoChanges, RunResult::NoChanges, None),
        &facts(&run, &[]),
    );
    assert_eq!(shape(&status), (Some("True"), None, None));
    assert_eq!(status.commit_sha.as_deref(), Some("old"));
    assert_eq!(status.history[0].result, RunResult::NoChanges);
    assert_eq!(settlement.announcements[0].reason, EventReason::NoChanges);
}

#[test]
fn skipped_optional_references_warn_and_are_named_in_the_message() {
    let run = run_id();
    let skipped = vec!["team/ConfigMap/gone (optional, missing)".to_owned()];
    let mut status = running();
    let settlement = settle(
        &mut status,
        delivered(EventReason::CommitPushed, RunResult::Committed, Some("abc")),
        &facts(&run, &skipped),
    );
    let reasons: Vec<_> = settlement.announcements.iter().map(|a| a.reason).collect();
    assert_eq!(
        reasons,
        [EventReason::ReferenceSkipped, EventReason::CommitPushed]
    );
    assert!(settlement.announcements[0].reason.is_warning());
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.ends_with("skipped: team/ConfigMap/gone (optional, missing)")),
        "{:?}",
        status.message
    );
}

/// One row per failure reason of the condition table: the conditions it leaves, whether it is
/// retried or stalls, and its Warning event.
#[test]
fn every_failure_reason_leaves_its_row_of_the_table() {
    let run = run_id();
    for reason in FailureReason::ALL {
        let mut status = running();
        let settlement = settle(
            &mut status,
            Outcome::Failed(Failure::new(reason, "it broke")),
            &facts(&run, &[]),
        );
        let name = reason.condition().as_str();
        assert_eq!(
            condition(&status, ConditionType::Ready),
            Some(("False", name)),
            "{name}"
        );
        let [event] = settlement.announcements.as_slice() else {
            panic!("{name}: one event");
        };
        assert!(event.reason.is_warning(), "{name}");
        assert_eq!(
            event.reason,
            EventReason::Failed(reason.condition()),
            "{name}"
        );
        assert!(settlement.write, "{name}");
        match reason.heal() {
            Heal::Retry => {
                assert_eq!(
                    shape(&status),
                    (Some("False"), Some("True"), None),
                    "{name}"
                );
                assert_eq!(
                    condition(&status, ConditionType::Reconciling).map(|c| c.1),
                    Some("ProgressingWithRetry")
                );
                assert_eq!(settlement.failures, 1, "{name}");
                assert_eq!(settlement.error, Some(reason.condition()), "{name}");
                assert_ne!(settlement.then, Action::await_change(), "{name}");
                assert!(
                    status
                        .message
                        .as_deref()
                        .is_some_and(|m| m.contains("(attempt 1; retrying in")),
                    "{name}: {:?}",
                    status.message
                );
                assert_eq!(status.history[0].result, RunResult::Failed);
            }
            Heal::Recheck(after) => {
                assert_eq!(
                    shape(&status),
                    (Some("False"), Some("True"), None),
                    "{name}"
                );
                assert_eq!(settlement.then, Action::requeue(after), "{name}");
                assert_eq!(after, MISSING_REFERENCE_RECHECK);
                assert_eq!(settlement.failures, 0, "{name}: not counted");
                assert_eq!(settlement.error, None, "{name}");
                assert!(status.run.is_none(), "{name}: no run was made");
                assert!(status.history.is_empty(), "{name}: no run was made");
                assert_eq!(event.token, run.to_string());
            }
            Heal::Stall => {
                assert_eq!(
                    shape(&status),
                    (Some("False"), None, Some("True")),
                    "{name}"
                );
                assert_eq!(settlement.then, Action::await_change(), "{name}");
                assert_eq!(settlement.failures, 0, "{name}");
                assert_eq!(settlement.error, Some(reason.condition()), "{name}");
                assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("r1"));
                assert_eq!(status.history[0].result, RunResult::Failed);
            }
        }
    }
}

#[test]
fn credentials_start_their_backoff_later() {
    let run = run_id();
    let delay = |reason| {
        let settlement = settle(
            &mut running(),
            Outcome::Failed(Failure::new(reason, "no")),
            &facts(&run, &[]),
        );
        settlement.then
    };
    assert_eq!(
        delay(FailureReason::ProgressingWithRetry),
        Action::requeue(Duration::from_secs(5))
    );
    assert_eq!(
        delay(FailureReason::AuthenticationFailed),
        Action::requeue(Duration::from_secs(40))
    );
}

#[test]
fn a_forge_retry_after_is_a_floor() {
    let run = run_id();
    let failure = Failure {
        retry_after: Some(Duration::from_secs(90)),
        ..Failure::new(FailureReason::ProgressingWithRetry, "rate limited")
    };
    let settlement = settle(&mut running(), Outcome::Failed(failure), &facts(&run, &[]));
    assert_eq!(settlement.then, Action::requeue(Duration::from_secs(90)));
}

#[test]
fn retries_exhausted_stalls_and_counts_the_original_reason() {
    let run = run_id();
    let mut status = running();
    let settlement = settle(
        &mut status,
        Outcome::Failed(Failure::new(
            FailureReason::PushRejected,
            "protected branch",
        )),
        &Facts {
            retry: RetrySettings {
                policy: RetryPolicy::ExponentialBackoff,
                max_retries: Some(2),
            },
            failures: 2,
            ..facts(&run, &[])
        },
    );
    assert_eq!(shape(&status), (Some("False"), None, Some("True")));
    assert_eq!(
        condition(&status, ConditionType::Stalled).map(|c| c.1),
        Some("RetriesExhausted")
    );
    assert_eq!(settlement.error, Some(ConditionReason::RetriesExhausted));
    assert_eq!(settlement.failures, 0);
    assert_eq!(settlement.then, Action::await_change());
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("gave up after 3 attempts")),
        "{:?}",
        status.message
    );
}

#[test]
fn the_same_stall_again_writes_and_announces_nothing() {
    let run = run_id();
    let mut status = running();
    let denied = || {
        Outcome::Failed(Failure::new(
            FailureReason::PolicyDenied,
            "1 policy violation",
        ))
    };
    settle(&mut status, denied(), &facts(&run, &[]));
    let again: Settlement = settle(&mut status, denied(), &facts(&run, &[]));
    assert!(!again.write);
    assert!(again.announcements.is_empty());
    assert_eq!(again.error, None);
    // A new reconcile request is echoed, quietly.
    let requested = settle(
        &mut status,
        denied(),
        &Facts {
            requested: Some("r2"),
            ..facts(&run, &[])
        },
    );
    assert!(requested.write);
    assert!(requested.announcements.is_empty());
    assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("r2"));
    // A new generation is decided again.
    let next = settle(
        &mut status,
        denied(),
        &Facts {
            generation: 4,
            ..facts(&run, &[])
        },
    );
    assert!(next.write);
}

#[test]
fn noted_writes_without_moving_conditions_and_idle_does_nothing() {
    let run = run_id();
    let mut status = running();
    let then = Action::requeue(Duration::from_secs(5));
    let noted = settle(
        &mut status,
        Outcome::Noted { then: then.clone() },
        &facts(&run, &[]),
    );
    assert!(noted.write && noted.announcements.is_empty());
    assert!(status.conditions.is_empty());
    assert_eq!(noted.then, then);
    let idle = settle(
        &mut status,
        Outcome::Idle { then: then.clone() },
        &facts(&run, &[]),
    );
    assert!(!idle.write && idle.announcements.is_empty());
    assert_eq!(status, running());
}

/// docs/controller.md's condition table is generated from the code; `GCO_UPDATE_DOCS=1`
/// rewrites it (`make docs`).
#[test]
fn the_condition_table_in_the_docs_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/controller.md");
    let doc = std::fs::read_to_string(path).expect("docs/controller.md");
    let (begin, end) = ("<!-- conditions:begin -->\n", "<!-- conditions:end -->");
    let start = doc.find(begin).expect("the table's begin marker") + begin.len();
    let stop = doc.find(end).expect("the table's end marker");
    let table = condition_table();
    if std::env::var_os("GCO_UPDATE_DOCS").is_some() {
        let updated = format!("{}{table}{}", &doc[..start], &doc[stop..]);
        std::fs::write(path, updated).expect("write docs/controller.md");
        return;
    }
    assert_eq!(
        &doc[start..stop],
        table,
        "docs/controller.md's condition table is stale: run `make docs`"
    );
}

#[test]
fn history_keeps_the_newest_runs_up_to_the_limit() {
    let run = run_id();
    // 13 runs: as many as the limit keeps.
    for (limit, kept) in [(3, 3), (10, 10), (100, 13)] {
        let mut status = running();
        for _ in 0..12 {
            settle(
                &mut status,
                delivered(EventReason::NoChanges, RunResult::NoChanges, None),
                &Facts {
                    history_limit: limit,
                    ..facts(&run, &[])
                },
            );
        }
        settle(
            &mut status,
            delivered(EventReason::CommitPushed, RunResult::Committed, Some("abc")),
            &Facts {
                history_limit: limit,
                ..facts(&run, &[])
            },
        );
        assert_eq!(status.history.len(), kept, "limit {limit}");
        assert_eq!(
            status.history[0].result,
            RunResult::Committed,
            "newest first"
        );
    }
}

#[test]
fn a_success_with_a_time_to_live_looks_again_when_it_expires() {
    let run = run_id();
    let ttl = Facts {
        time_to_live: Some(Duration::from_secs(2)),
        ..facts(&run, &[])
    };
    let mut status = running();
    let settlement = settle(
        &mut status,
        delivered(EventReason::CommitPushed, RunResult::Committed, Some("abc")),
        &ttl,
    );
    assert_eq!(
        settlement.then,
        Action::requeue(Duration::from_millis(2200)),
        "the expiry, 2 s after the run"
    );
    // A failure is not finished: it follows the retry policy, and never expires.
    let mut failing = running();
    let settlement = settle(
        &mut failing,
        Outcome::Failed(Failure::new(FailureReason::PushRejected, "rejected")),
        &ttl,
    );
    assert_ne!(
        settlement.then,
        Action::requeue(Duration::from_millis(2200))
    );
    assert_eq!(
        condition(&failing, ConditionType::Ready).map(|c| c.0),
        Some("False")
    );
}
