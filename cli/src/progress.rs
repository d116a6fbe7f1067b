//! Where a requested run stands, judged from the object alone, as `flux reconcile` judges
//! it: handled once `status.lastHandledReconcileAt` echoes the request (or, without a request,
//! once the generation is observed) and the object is no longer Reconciling. Pure.

use crate::object::Exported;

/// What the object says about the run that was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Not decided yet; the text says what is being waited for.
    Waiting(String),
    /// Ready: the run committed (or found nothing to change).
    Succeeded {
        commit: Option<String>,
        message: String,
    },
    /// Decided, not Ready: the reason and the controller's message.
    Failed { reason: String, message: String },
}

/// What was asked for: a generation to observe, and a `requestedAt` value to see handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub generation: Option<i64>,
    pub requested: Option<String>,
}

/// Judges `object` against what was asked for.
pub fn judge(object: &Exported, expected: &Expectation) -> Progress {
    let status = object.status();
    if let Some(requested) = &expected.requested {
        let handled = status.and_then(|s| s.last_handled_reconcile_at.as_deref());
        if handled != Some(requested.as_str()) {
            return Progress::Waiting("waiting for the controller to pick up the request".into());
        }
    }
    let observed = status.and_then(|s| s.observed_generation);
    if observed.is_none() || observed < expected.generation {
        return Progress::Waiting("waiting for the controller to observe the new spec".into());
    }
    if let Some(reconciling) = object
        .condition("Reconciling")
        .filter(|c| c.status == "True")
    {
        let detail = object
            .condition("Ready")
            .map_or(reconciling.message.as_str(), |c| c.message.as_str());
        return Progress::Waiting(format!("{}: {detail}", reconciling.reason));
    }
    match object.condition("Ready") {
        Some(ready) if ready.status == "True" => Progress::Succeeded {
            commit: status.and_then(|s| s.commit_sha.clone()),
            message: ready.message.clone(),
        },
        Some(ready) => Progress::Failed {
            reason: ready.reason.clone(),
            message: ready.message.clone(),
        },
        None => Progress::Waiting("waiting for a Ready condition".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::gitcommit;
    use serde_json::json;

    fn expect(requested: &str) -> Expectation {
        Expectation {
            generation: Some(2),
            requested: Some(requested.into()),
        }
    }

    fn condition(type_: &str, status: &str, reason: &str) -> serde_json::Value {
        json!({ "type": type_, "status": status, "reason": reason, "message": format!("{reason} message"),
                "lastTransitionTime": "2026-01-02T00:00:00Z" })
    }

    #[test]
    fn an_unhandled_request_is_waited_for() {
        let object = gitcommit(
            json!({ "observedGeneration": 2, "lastHandledReconcileAt": "old",
            "conditions": [condition("Ready", "True", "Succeeded")] }),
        );
        assert!(matches!(
            judge(&object, &expect("new")),
            Progress::Waiting(_)
        ));
    }

    #[test]
    fn a_handled_request_still_reconciling_is_waited_for() {
        let object = gitcommit(
            json!({ "observedGeneration": 2, "lastHandledReconcileAt": "r",
            "conditions": [condition("Ready", "False", "ProgressingWithRetry"),
                           condition("Reconciling", "True", "ProgressingWithRetry")] }),
        );
        assert_eq!(
            judge(&object, &expect("r")),
            Progress::Waiting("ProgressingWithRetry: ProgressingWithRetry message".into())
        );
    }

    #[test]
    fn a_handled_request_ends_in_success_or_failure() {
        let ready = gitcommit(
            json!({ "observedGeneration": 2, "lastHandledReconcileAt": "r",
            "commitSHA": "abc", "conditions": [condition("Ready", "True", "Succeeded")] }),
        );
        assert_eq!(
            judge(&ready, &expect("r")),
            Progress::Succeeded {
                commit: Some("abc".into()),
                message: "Succeeded message".into()
            }
        );
        let denied = gitcommit(
            json!({ "observedGeneration": 2, "lastHandledReconcileAt": "r",
            "conditions": [condition("Ready", "False", "PolicyDenied"), condition("Stalled", "True", "PolicyDenied")] }),
        );
        assert_eq!(
            judge(&denied, &expect("r")),
            Progress::Failed {
                reason: "PolicyDenied".into(),
                message: "PolicyDenied message".into()
            }
        );
    }

    #[test]
    fn an_old_generation_is_waited_for() {
        let object = gitcommit(json!({ "observedGeneration": 1,
            "conditions": [condition("Ready", "True", "Succeeded")] }));
        let expected = Expectation {
            generation: Some(2),
            requested: None,
        };
        assert!(matches!(judge(&object, &expected), Progress::Waiting(_)));
    }
}
