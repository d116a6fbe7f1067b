//! The git engine's errors. The controller decides how each heals
//! (controller/src/reconcile/failure.rs).

/// What went wrong talking to, or writing into, a repository. URLs in here are always
/// redacted (no userinfo) and messages never contain a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error(
        "authentication to {url} failed: {detail}; check the username, password or token in the auth Secret"
    )]
    AuthFailed { url: String, detail: String },
    #[error("host key of {host} rejected: {reason}")]
    HostKeyRejected { host: String, reason: String },
    #[error("TLS certificate of {host} rejected: {reason}")]
    CertificateRejected { host: String, reason: String },
    #[error("repository {url} or branch {branch:?} not found: {detail}")]
    NotFound {
        url: String,
        branch: String,
        detail: String,
    },
    #[error("push to branch {branch:?} was rejected: {reason}")]
    PushRejected { branch: String, reason: String },
    #[error(
        "head branch {branch:?} was changed by someone else (expected {expected}, found {found}); the operator will not overwrite it"
    )]
    HeadBranchDiverged {
        branch: String,
        expected: String,
        found: String,
    },
    #[error(
        "branch {branch:?} kept moving: gave up after {attempts} attempts to push on top of it"
    )]
    RetriesExhausted { branch: String, attempts: u32 },
    #[error("network error talking to {url}: {detail}")]
    Network { url: String, detail: String },
    #[error("repository URL {url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("auth Secret is not usable: {reason}")]
    Credentials { reason: String },
    #[error("cannot write {path:?}: {detail}")]
    PathConflict { path: String, detail: String },
    #[error("local repository cache error: {detail}")]
    Repository { detail: String },
    #[error(
        "run id {id:?} is not usable: write 1 to 128 characters of A-Z, a-z, 0-9 and `._:/+=-`"
    )]
    InvalidRunId { id: String },
    #[error("commit author {author:?} is not usable: write it as `Name <email>`")]
    InvalidAuthor { author: String },
    #[error("branch name {branch:?} is not valid: {reason}")]
    InvalidBranch { branch: String, reason: String },
    #[error(
        "cannot sign the commit: {reason}; check the key of the Secret named by spec.commit.signingKey.secretName"
    )]
    Signing { reason: String },
    #[error("the git engine stopped before the change was pushed")]
    Cancelled,
}

impl GitError {
    pub(crate) fn repository(error: impl std::fmt::Display) -> Self {
        GitError::Repository {
            detail: error.to_string(),
        }
    }
}
