//! Conditions the way Flux and kstatus read them: `Ready` always, `Reconciling` only while
//! working, `Stalled` only when the operator will not retry by itself.

use gco_api::{ConditionReason, ConditionType};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::announce::truncate;

/// The state a run leaves the object in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A run is in progress.
    Progressing { message: String },
    /// The run succeeded.
    Succeeded { message: String },
    /// The run failed and will be retried.
    Retrying {
        reason: ConditionReason,
        message: String,
    },
    /// The run failed and will not be retried until the spec changes or a reconcile is
    /// requested.
    Stalled {
        reason: ConditionReason,
        message: String,
    },
}

impl Verdict {
    pub fn message(&self) -> &str {
        match self {
            Self::Progressing { message }
            | Self::Succeeded { message }
            | Self::Retrying { message, .. }
            | Self::Stalled { message, .. } => message,
        }
    }
}

/// Applies a verdict to a condition list. `lastTransitionTime` moves only when a condition's
/// status changes, as the Kubernetes API conventions require.
pub fn apply(conditions: &mut Vec<Condition>, verdict: &Verdict, generation: i64, now: Timestamp) {
    use ConditionReason as R;
    use ConditionType as T;
    let mut set = |type_: T, status: &str, reason: R, message: &str| {
        upsert(conditions, type_, status, reason, message, generation, now)
    };
    match verdict {
        Verdict::Progressing { message } => {
            set(T::Ready, "Unknown", R::Progressing, message);
            set(T::Reconciling, "True", R::Progressing, message);
            remove(conditions, T::Stalled);
        }
        Verdict::Succeeded { message } => {
            set(T::Ready, "True", R::Succeeded, message);
            remove(conditions, T::Reconciling);
            remove(conditions, T::Stalled);
        }
        Verdict::Retrying { reason, message } => {
            set(T::Ready, "False", *reason, message);
            set(T::Reconciling, "True", R::ProgressingWithRetry, message);
            remove(conditions, T::Stalled);
        }
        Verdict::Stalled { reason, message } => {
            set(T::Ready, "False", *reason, message);
            set(T::Stalled, "True", *reason, message);
            remove(conditions, T::Reconciling);
        }
    }
}

fn upsert(
    conditions: &mut Vec<Condition>,
    type_: ConditionType,
    status: &str,
    reason: ConditionReason,
    message: &str,
    generation: i64,
    now: Timestamp,
) {
    let fresh = Condition {
        type_: type_.as_str().to_owned(),
        status: status.to_owned(),
        reason: reason.as_str().to_owned(),
        message: truncate(message, MESSAGE_LIMIT),
        observed_generation: Some(generation),
        last_transition_time: Time(now),
    };
    match conditions.iter_mut().find(|c| c.type_ == fresh.type_) {
        Some(existing) if existing.status == fresh.status => {
            let since = existing.last_transition_time.clone();
            *existing = Condition {
                last_transition_time: since,
                ..fresh
            };
        }
        Some(existing) => *existing = fresh,
        None => conditions.push(fresh),
    }
}

fn remove(conditions: &mut Vec<Condition>, type_: ConditionType) {
    conditions.retain(|c| c.type_ != type_.as_str());
}

/// metav1.Condition allows 32768 bytes of message.
const MESSAGE_LIMIT: usize = 32_000;

/// The status kstatus (and so `kubectl wait`, Flux health checks, Argo CD) computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KStatus {
    InProgress,
    Failed,
    Current,
    Terminating,
}

/// kstatus's order: deletion → Terminating; observedGeneration behind → InProgress;
/// Reconciling=True → InProgress; Stalled=True → Failed; Ready=True → Current; any other Ready
/// → InProgress; no conditions → Current.
pub fn kstatus(
    deleting: bool,
    generation: Option<i64>,
    observed_generation: Option<i64>,
    conditions: &[Condition],
) -> KStatus {
    let is = |type_: ConditionType, status: &str| {
        conditions
            .iter()
            .any(|c| c.type_ == type_.as_str() && c.status == status)
    };
    if deleting {
        return KStatus::Terminating;
    }
    if generation.is_some() && observed_generation.is_some() && generation != observed_generation {
        return KStatus::InProgress;
    }
    if is(ConditionType::Reconciling, "True") {
        return KStatus::InProgress;
    }
    if is(ConditionType::Stalled, "True") {
        return KStatus::Failed;
    }
    if is(ConditionType::Ready, "True") {
        return KStatus::Current;
    }
    if conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready.as_str())
    {
        return KStatus::InProgress;
    }
    KStatus::Current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn find(c: &[Condition], t: ConditionType) -> Option<&Condition> {
        c.iter().find(|x| x.type_ == t.as_str())
    }

    #[test]
    fn a_run_goes_in_progress_then_current() {
        let mut c = Vec::new();
        let t0 = at("2026-11-22T13:00:00Z");
        apply(
            &mut c,
            &Verdict::Progressing {
                message: "pushing".into(),
            },
            1,
            t0,
        );
        assert_eq!(kstatus(false, Some(1), Some(1), &c), KStatus::InProgress);
        apply(
            &mut c,
            &Verdict::Succeeded {
                message: "pushed abc".into(),
            },
            1,
            t0,
        );
        assert_eq!(kstatus(false, Some(1), Some(1), &c), KStatus::Current);
        assert!(find(&c, ConditionType::Reconciling).is_none());
        assert_eq!(
            find(&c, ConditionType::Ready).map(|r| r.reason.as_str()),
            Some("Succeeded")
        );
    }

    #[test]
    fn retrying_is_in_progress_and_stalled_is_failed() {
        let mut c = Vec::new();
        let now = at("2026-11-22T13:00:00Z");
        let retry = Verdict::Retrying {
            reason: ConditionReason::PushRejected,
            message: "down".into(),
        };
        apply(&mut c, &retry, 1, now);
        assert_eq!(kstatus(false, Some(1), Some(1), &c), KStatus::InProgress);
        let stalled = Verdict::Stalled {
            reason: ConditionReason::RetriesExhausted,
            message: "gave up".into(),
        };
        apply(&mut c, &stalled, 1, now);
        assert_eq!(kstatus(false, Some(1), Some(1), &c), KStatus::Failed);
        assert!(find(&c, ConditionType::Reconciling).is_none());
        assert_eq!(kstatus(false, Some(2), Some(1), &c), KStatus::InProgress);
        assert_eq!(kstatus(true, Some(1), Some(1), &c), KStatus::Terminating);
        assert_eq!(kstatus(false, Some(1), None, &[]), KStatus::Current);
    }

    #[test]
    fn transition_time_moves_only_when_the_status_changes() {
        let mut c = Vec::new();
        let (t0, t1, t2) = (
            at("2026-11-22T13:00:00Z"),
            at("2026-11-22T13:01:00Z"),
            at("2026-11-22T13:02:00Z"),
        );
        apply(
            &mut c,
            &Verdict::Succeeded {
                message: "a".into(),
            },
            1,
            t0,
        );
        apply(
            &mut c,
            &Verdict::Succeeded {
                message: "b".into(),
            },
            2,
            t1,
        );
        let ready = find(&c, ConditionType::Ready).expect("ready");
        assert_eq!(ready.last_transition_time, Time(t0));
        assert_eq!(
            (ready.message.as_str(), ready.observed_generation),
            ("b", Some(2))
        );
        let failed = Verdict::Retrying {
            reason: ConditionReason::AuthenticationFailed,
            message: "401".into(),
        };
        apply(&mut c, &failed, 2, t2);
        let ready = find(&c, ConditionType::Ready).expect("ready");
        assert_eq!(ready.last_transition_time, Time(t2));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(20_000);
        let cut = truncate(&long, MESSAGE_LIMIT);
        assert!(cut.len() <= 32_010 && cut.ends_with('…'));
    }
}
