//! When a one-shot GitCommit is deleted: `spec.ttlSecondsAfterFinished` after its last
//! successful run, while it is Ready for its current generation (docs/user-guide.md, History
//! and expiry). Pure: the driver deletes, [`conclude`](super::conclude) requeues at the expiry.

use std::time::Duration;

use gco_api::{ConditionType, ExportStatus};
use jiff::{SignedDuration, Timestamp};
use kube::runtime::controller::Action;

/// The instant the object is due for deletion, if it has a TTL and has finished: Ready=True
/// for `generation`, with a last successful run (`status.lastSync`). A failing, edited or
/// never-run object has no expiry.
pub fn expires_at(
    ttl: Option<Duration>,
    status: &ExportStatus,
    generation: i64,
) -> Option<Timestamp> {
    let ttl = SignedDuration::try_from(ttl?).ok()?;
    let ready = status.conditions.iter().any(|c| {
        c.type_ == ConditionType::Ready.as_str()
            && c.status == "True"
            && c.observed_generation.is_none_or(|g| g == generation)
    });
    if !ready || status.observed_generation != Some(generation) {
        return None;
    }
    status.last_sync.as_ref()?.0.checked_add(ttl).ok()
}

/// Whether the expiry has come.
pub fn is_due(expiry: Option<Timestamp>, now: Timestamp) -> bool {
    expiry.is_some_and(|at| at <= now)
}

/// Look again when the expiry comes (just after it: a requeue may land a moment early).
pub fn requeue_until(expiry: Timestamp, now: Timestamp) -> Action {
    let wait = expiry
        .duration_since(now)
        .max(SignedDuration::ZERO)
        .unsigned_abs();
    Action::requeue(wait + Duration::from_millis(200))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_795_352_400 + second).expect("valid")
    }

    fn status(ready: &str, generation: i64, last_sync: Option<Timestamp>) -> ExportStatus {
        ExportStatus {
            observed_generation: Some(generation),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: ready.into(),
                reason: "Succeeded".into(),
                message: String::new(),
                observed_generation: Some(generation),
                last_transition_time: Time(at(0)),
            }],
            last_sync: last_sync.map(Time),
            ..ExportStatus::default()
        }
    }

    #[test]
    fn a_finished_object_expires_ttl_after_its_last_success() {
        let ttl = Some(Duration::from_secs(2));
        let done = status("True", 3, Some(at(10)));
        assert_eq!(expires_at(ttl, &done, 3), Some(at(12)));
        assert!(!is_due(expires_at(ttl, &done, 3), at(11)));
        assert!(is_due(expires_at(ttl, &done, 3), at(12)));
        assert_eq!(
            requeue_until(at(12), at(11)),
            Action::requeue(Duration::from_millis(1200))
        );
        assert_eq!(
            requeue_until(at(12), at(20)),
            Action::requeue(Duration::from_millis(200))
        );
    }

    #[test]
    fn without_a_ttl_a_success_or_the_current_generation_nothing_expires() {
        let ttl = Some(Duration::from_secs(2));
        assert_eq!(expires_at(None, &status("True", 3, Some(at(10))), 3), None);
        assert_eq!(expires_at(ttl, &status("False", 3, Some(at(10))), 3), None);
        assert_eq!(expires_at(ttl, &status("True", 3, None), 3), None);
        assert_eq!(
            expires_at(ttl, &status("True", 3, Some(at(10))), 4),
            None,
            "an edit not yet run"
        );
        assert_eq!(
            expires_at(ttl, &ExportStatus::default(), 1),
            None,
            "never run"
        );
    }
}
