//! What the forge clients report. Messages name the field or Secret key to fix and never
//! carry a token.

use std::time::Duration;

/// The forge's answers the reconciler acts on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    #[error(
        "spec.repository.provider: the forge of host {host:?} cannot be inferred: set it to `github`, `gitlab` or `gitea` (and `apiURL` for a self-hosted forge)"
    )]
    UnknownProvider { host: String },
    #[error("spec.repository.url {url:?} does not name a repository on a forge: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "branch {branch:?} cannot be named in a forge API path (it is empty, `.` or `..`): set `spec.pullRequest.headBranch` or `branchPrefix` to a valid branch name"
    )]
    InvalidBranch { branch: String },
    #[error(
        "the {provider} API at {api} refused the token ({status}): check `token`, `bearerToken` or (for https repositories) `password` in the auth Secret, and the token's scopes"
    )]
    Unauthorized {
        provider: &'static str,
        api: String,
        status: u16,
    },
    #[error(
        "the {provider} API at {api} has no {what} (404): check the repository URL, apiURL and the token's access"
    )]
    NotFound {
        provider: &'static str,
        api: String,
        what: String,
    },
    #[error("the {provider} API is rate limiting this token: retry in {retry_after_secs}s")]
    RateLimited {
        provider: &'static str,
        retry_after_secs: u64,
    },
    #[error("the {provider} API answered {status} to {operation}: {detail}")]
    Http {
        provider: &'static str,
        operation: String,
        status: u16,
        detail: String,
    },
    #[error("cannot reach the {provider} API at {api}: {detail}")]
    Network {
        provider: &'static str,
        api: String,
        detail: String,
    },
    #[error("the {provider} API sent an unexpected answer to {operation}: {detail}")]
    InvalidResponse {
        provider: &'static str,
        operation: String,
        detail: String,
    },
}

impl ForgeError {
    /// Whether it is the token's fault (the condition reason `AuthenticationFailed`).
    pub fn is_auth(&self) -> bool {
        matches!(self, ForgeError::Unauthorized { .. })
    }

    /// Whether only a spec change can fix it.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ForgeError::UnknownProvider { .. }
                | ForgeError::InvalidUrl { .. }
                | ForgeError::InvalidBranch { .. }
        )
    }

    /// How long the forge asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ForgeError::RateLimited {
                retry_after_secs, ..
            } => Some(Duration::from_secs(*retry_after_secs)),
            _ => None,
        }
    }
}
