//! Why a run failed, and whether it heals by itself: one typed [`Failure`] that every error of
//! a run converts into, so the condition a failure leaves is decided in one place.
//!
//! How a failure heals is a property of its reason, not of the call site: a `RenderFailed`
//! always stalls, a `PushRejected` is always retried. docs/controller.md's condition table is
//! generated from [`FailureReason`] and checked by a test.

use std::time::Duration;

use gco_api::{ConditionReason, rules::Violations};

use super::{
    credentials::CredentialsError, retry::RetryAnnotationError, schedule::ScheduleError,
    signing_key::SigningKeyError,
};
use crate::{forge::ForgeError, git::GitError, references::ReferenceError, render::RenderError};

/// The reasons a run can fail with. `RetriesExhausted` is not among them: it is what a
/// retried failure becomes when the retry policy gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The repository or forge could not be reached or read.
    ProgressingWithRetry,
    /// Credentials refused, the Secret missing, a host key or certificate rejected.
    AuthenticationFailed,
    /// The server refused the push.
    PushRejected,
    /// A required referenced object does not exist.
    ReferenceNotFound,
    /// The spec cannot be rendered.
    RenderFailed,
    /// A built-in rule or a GitExportPolicy refuses the spec.
    PolicyDenied,
    /// Someone else pushed to a pull request's head branch.
    HeadBranchDiverged,
    /// The identity the object's reads use may not read what the spec names.
    AccessDenied,
}

/// What happens after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heal {
    /// Retried with the object's retry policy (backoff, then `RetriesExhausted`).
    Retry,
    /// Looked at again after this long, and as soon as a watch sees the cause go away; never
    /// counted against the retry policy (a missing object is not the operator's failure).
    Recheck(Duration),
    /// Not retried until the spec changes or a reconcile is requested.
    Stall,
}

/// How often a missing reference is looked for again, besides its watch.
pub const MISSING_REFERENCE_RECHECK: Duration = Duration::from_secs(300);

impl FailureReason {
    /// Every failure reason, in the order docs/controller.md lists them.
    pub const ALL: [FailureReason; 8] = [
        Self::ProgressingWithRetry,
        Self::AuthenticationFailed,
        Self::PushRejected,
        Self::ReferenceNotFound,
        Self::RenderFailed,
        Self::PolicyDenied,
        Self::HeadBranchDiverged,
        Self::AccessDenied,
    ];

    pub const fn condition(self) -> ConditionReason {
        match self {
            Self::ProgressingWithRetry => ConditionReason::ProgressingWithRetry,
            Self::AuthenticationFailed => ConditionReason::AuthenticationFailed,
            Self::PushRejected => ConditionReason::PushRejected,
            Self::ReferenceNotFound => ConditionReason::ReferenceNotFound,
            Self::RenderFailed => ConditionReason::RenderFailed,
            Self::PolicyDenied => ConditionReason::PolicyDenied,
            Self::HeadBranchDiverged => ConditionReason::HeadBranchDiverged,
            Self::AccessDenied => ConditionReason::AccessDenied,
        }
    }

    pub const fn heal(self) -> Heal {
        match self {
            Self::ProgressingWithRetry
            | Self::AuthenticationFailed
            | Self::PushRejected
            | Self::HeadBranchDiverged => Heal::Retry,
            Self::ReferenceNotFound => Heal::Recheck(MISSING_REFERENCE_RECHECK),
            Self::RenderFailed | Self::PolicyDenied | Self::AccessDenied => Heal::Stall,
        }
    }

    /// Extra failures counted at once, so the backoff starts later: wrong credentials do not
    /// fix themselves quickly (3 → the first retry waits about 40 s, not 5 s).
    pub const fn backoff_head_start(self) -> u32 {
        match self {
            Self::AuthenticationFailed => 3,
            _ => 0,
        }
    }

    /// What happened and what to do, for docs/controller.md.
    pub const fn explain(self) -> (&'static str, &'static str) {
        match self {
            Self::ProgressingWithRetry => (
                "the repository or forge could not be reached or read; retrying with backoff",
                "check the URL and the git server",
            ),
            Self::AuthenticationFailed => (
                "credentials refused, the Secret is missing, or a host key / certificate was rejected",
                "fix the Secret named by `spec.auth.secretName` (`known_hosts`, `ca.crt`)",
            ),
            Self::PushRejected => (
                "the server refused the push (protected branch, hook), or the branch kept moving",
                "allow the operator to push, or pick another branch",
            ),
            Self::ReferenceNotFound => (
                "a referenced object does not exist",
                "create it, or mark the reference `optional: true`; the run resumes as soon as it appears",
            ),
            Self::RenderFailed => (
                "the spec cannot be rendered: an unknown kind, a missing key, a bad placeholder, URL, schedule or annotation",
                "fix the field the message names",
            ),
            Self::PolicyDenied => (
                "a built-in rule or a GitExportPolicy refuses the spec",
                "change the spec, or ask an admin to allow it (the message names the policy field)",
            ),
            Self::HeadBranchDiverged => (
                "(PullRequest) someone else pushed to the head branch; the operator never overwrites it",
                "merge or close their change, or delete the branch",
            ),
            Self::AccessDenied => (
                "a read made for the object (a referenced object, the auth Secret) was forbidden to the identity it reads as: `spec.serviceAccountName` or `--default-service-account`",
                "grant that ServiceAccount `get` on what the message names, or reference something it may read",
            ),
        }
    }
}

/// A failed run: its reason, a message that names the field, the rule and the fix, and the
/// least time to wait before trying again when the other side asked for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailureReason,
    pub message: String,
    /// A forge's `Retry-After`: no retry comes sooner.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A spec that cannot be rendered; `message` names the field.
    pub fn render(message: impl Into<String>) -> Self {
        Self::new(FailureReason::RenderFailed, message)
    }
}

impl From<GitError> for Failure {
    fn from(error: GitError) -> Self {
        use FailureReason as R;
        let reason = match &error {
            GitError::AuthFailed { .. }
            | GitError::HostKeyRejected { .. }
            | GitError::CertificateRejected { .. }
            | GitError::Credentials { .. }
            | GitError::Signing { .. } => R::AuthenticationFailed,
            GitError::PushRejected { .. } | GitError::RetriesExhausted { .. } => R::PushRejected,
            GitError::HeadBranchDiverged { .. } => R::HeadBranchDiverged,
            GitError::PathConflict { .. }
            | GitError::InvalidUrl { .. }
            | GitError::InvalidRunId { .. }
            | GitError::InvalidBranch { .. }
            | GitError::InvalidAuthor { .. } => R::RenderFailed,
            GitError::NotFound { .. }
            | GitError::Network { .. }
            | GitError::Repository { .. }
            | GitError::Cancelled => R::ProgressingWithRetry,
        };
        Self::new(reason, error.to_string())
    }
}

impl From<ForgeError> for Failure {
    fn from(error: ForgeError) -> Self {
        let reason = if error.is_permanent() {
            FailureReason::RenderFailed
        } else if error.is_auth() {
            FailureReason::AuthenticationFailed
        } else {
            FailureReason::ProgressingWithRetry
        };
        Self {
            retry_after: error.retry_after(),
            ..Self::new(reason, error.to_string())
        }
    }
}

impl From<ReferenceError> for Failure {
    fn from(error: ReferenceError) -> Self {
        let reason = match error {
            // A kind the cluster does not serve is a spec error until a CRD is installed.
            ReferenceError::UnknownKind { .. } => FailureReason::RenderFailed,
            ReferenceError::Forbidden { .. } => FailureReason::AccessDenied,
            ReferenceError::Selector { .. } => FailureReason::RenderFailed,
            ReferenceError::TooMany { .. } => FailureReason::PolicyDenied,
            ReferenceError::Read { .. } => FailureReason::ProgressingWithRetry,
        };
        Self::new(reason, error.to_string())
    }
}

impl From<RenderError> for Failure {
    fn from(error: RenderError) -> Self {
        Self::render(error.to_string())
    }
}

impl From<Violations> for Failure {
    fn from(violations: Violations) -> Self {
        Self::new(FailureReason::PolicyDenied, violations.to_string())
    }
}

impl From<RetryAnnotationError> for Failure {
    fn from(error: RetryAnnotationError) -> Self {
        Self::render(error.to_string())
    }
}

impl From<ScheduleError> for Failure {
    fn from(error: ScheduleError) -> Self {
        Self::render(error.to_string())
    }
}

impl From<CredentialsError> for Failure {
    fn from(error: CredentialsError) -> Self {
        let reason = match error {
            CredentialsError::Forbidden { .. } => FailureReason::AccessDenied,
            CredentialsError::Missing { .. } | CredentialsError::Read { .. } => {
                FailureReason::AuthenticationFailed
            }
        };
        Self::new(reason, error.to_string())
    }
}

impl From<SigningKeyError> for Failure {
    fn from(error: SigningKeyError) -> Self {
        let reason = match error {
            SigningKeyError::Forbidden { .. } => FailureReason::AccessDenied,
            SigningKeyError::Missing { .. }
            | SigningKeyError::Read { .. }
            | SigningKeyError::Unusable { .. } => FailureReason::AuthenticationFailed,
        };
        Self::new(reason, error.to_string())
    }
}

/// The condition table of docs/controller.md, computed from the reasons and the conditions
/// their verdicts leave (a test keeps the document equal to it).
pub fn condition_table() -> String {
    use super::conditions::{Verdict, apply};
    use gco_api::ConditionType;
    let now = jiff::Timestamp::UNIX_EPOCH;
    let row = |reason: ConditionReason, verdict: Verdict, happened: &str, todo: &str| {
        let mut conditions = Vec::new();
        apply(&mut conditions, &verdict, 1, now);
        let status = |type_: ConditionType| {
            conditions
                .iter()
                .find(|c| c.type_ == type_.as_str())
                .map(|c| c.status.clone())
        };
        let also: Vec<&str> = [ConditionType::Reconciling, ConditionType::Stalled]
            .into_iter()
            .filter(|t| status(*t).as_deref() == Some("True"))
            .map(ConditionType::as_str)
            .collect();
        let ready = status(ConditionType::Ready).unwrap_or_default();
        let also = if also.is_empty() {
            " ".to_owned()
        } else {
            format!(" {} ", also.join(", "))
        };
        format!(
            "| `{}` | {ready} |{also}| {happened} | {todo} |\n",
            reason.as_str()
        )
    };
    let message = String::new;
    let mut table = String::from(
        "| Reason | Ready | Also | What happened | What to do |\n| --- | --- | --- | --- | --- |\n",
    );
    table.push_str(&row(
        ConditionReason::Succeeded,
        Verdict::Succeeded { message: message() },
        "pushed, or the branch already held the files (`NoChanges`)",
        "nothing",
    ));
    table.push_str(&row(
        ConditionReason::Progressing,
        Verdict::Progressing { message: message() },
        "a run is in progress",
        "wait",
    ));
    for reason in FailureReason::ALL {
        let (happened, todo) = reason.explain();
        let condition = reason.condition();
        let verdict = match reason.heal() {
            Heal::Stall => Verdict::Stalled {
                reason: condition,
                message: message(),
            },
            Heal::Retry | Heal::Recheck(_) => Verdict::Retrying {
                reason: condition,
                message: message(),
            },
        };
        table.push_str(&row(condition, verdict, happened, todo));
    }
    table.push_str(&row(
        ConditionReason::RetriesExhausted,
        Verdict::Stalled {
            reason: ConditionReason::RetriesExhausted,
            message: message(),
        },
        "the retry policy gave up",
        "fix the cause, then change the spec or request a reconcile",
    ));
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_errors_heal_by_their_reason() {
        let cases = [
            (
                GitError::AuthFailed {
                    url: "u".into(),
                    detail: "401".into(),
                },
                FailureReason::AuthenticationFailed,
                Heal::Retry,
            ),
            (
                GitError::PathConflict {
                    path: "a".into(),
                    detail: "b".into(),
                },
                FailureReason::RenderFailed,
                Heal::Stall,
            ),
            (
                GitError::Network {
                    url: "u".into(),
                    detail: "down".into(),
                },
                FailureReason::ProgressingWithRetry,
                Heal::Retry,
            ),
            (
                GitError::RetriesExhausted {
                    branch: "main".into(),
                    attempts: 5,
                },
                FailureReason::PushRejected,
                Heal::Retry,
            ),
        ];
        for (error, reason, heal) in cases {
            let failure = Failure::from(error);
            assert_eq!((failure.reason, failure.reason.heal()), (reason, heal));
        }
    }

    #[test]
    fn an_unknown_kind_stalls_and_a_read_error_retries() {
        let unknown = Failure::from(ReferenceError::UnknownKind {
            field: "spec.resourceReferences[0]".into(),
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
        });
        assert_eq!(unknown.reason.heal(), Heal::Stall);
        assert!(
            unknown.message.contains("install the CRD"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn a_forge_retry_after_is_kept() {
        let failure = Failure::from(ForgeError::RateLimited {
            provider: "github",
            retry_after_secs: 90,
        });
        assert_eq!(failure.reason, FailureReason::ProgressingWithRetry);
        assert_eq!(failure.retry_after, Some(Duration::from_secs(90)));
    }
}
