//! Forge clients (DESIGN §3.2, §4): find, open, update and follow the one pull (merge) request
//! a PullRequest keeps, on GitHub, GitLab or Gitea/Forgejo.
//!
//! Every client talks REST over [`http::Api`], which owns authentication, rate limits and the
//! rule that no token ever reaches a log line, an error or a status.

mod gitea;
mod github;
mod gitlab;
mod http;
mod target;

use gco_api::{ForgeProvider, PullRequestRepository, PullRequestState, rules::infer_provider};

pub use http::MAX_WAIT;
pub use target::Target;

/// A pull request as the forge reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgePullRequest {
    /// The number (GitHub, Gitea) or project-scoped `iid` (GitLab).
    pub number: i64,
    /// Web URL, for humans.
    pub url: String,
    pub title: String,
    pub body: String,
    pub state: PullRequestState,
}

/// What to open: `head` proposed into `base`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
}

/// The forge's answers the reconciler acts on. Messages never carry a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForgeError {
    #[error(
        "spec.repository.provider: the forge of host {host:?} cannot be inferred: set it to `github`, `gitlab` or `gitea` (and `apiURL` for a self-hosted forge)"
    )]
    UnknownProvider { host: String },
    #[error("spec.repository.url {url:?} does not name a repository on a forge: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "the {provider} API at {api} refused the token ({status}): check `password`, `bearerToken` or `token` in the auth Secret and its scopes"
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
            ForgeError::UnknownProvider { .. } | ForgeError::InvalidUrl { .. }
        )
    }

    /// How long the forge asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ForgeError::RateLimited {
                retry_after_secs, ..
            } => Some(std::time::Duration::from_secs(*retry_after_secs)),
            _ => None,
        }
    }
}

/// A client for the forge that hosts one repository.
pub enum Forge {
    Github(github::Github),
    Gitlab(gitlab::Gitlab),
    Gitea(gitea::Gitea),
}

impl Forge {
    /// The client for `repository`: its provider (explicit, else inferred from the host), its
    /// API base (`apiURL`, else the provider's default for the host) and `token`.
    pub fn for_repository(
        repository: &PullRequestRepository,
        token: Option<&str>,
    ) -> Result<Self, ForgeError> {
        let target = Target::parse(&repository.url)?;
        let provider = match repository.provider {
            Some(provider) => provider,
            None => infer_provider(&target.host).ok_or_else(|| ForgeError::UnknownProvider {
                host: target.host.clone(),
            })?,
        };
        let api_url = repository.api_url.as_deref();
        Ok(match provider {
            ForgeProvider::Github => Forge::Github(github::Github::new(&target, api_url, token)?),
            ForgeProvider::Gitlab => Forge::Gitlab(gitlab::Gitlab::new(&target, api_url, token)?),
            ForgeProvider::Gitea => Forge::Gitea(gitea::Gitea::new(&target, api_url, token)?),
        })
    }

    /// The open pull request from `head` into `base`, if there is one.
    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        match self {
            Forge::Github(f) => f.find_open(head, base).await,
            Forge::Gitlab(f) => f.find_open(head, base).await,
            Forge::Gitea(f) => f.find_open(head, base).await,
        }
    }

    /// Opens `proposal`; if the forge says one is already open for head→base (a race with
    /// another replica, or a lost answer), returns that one instead of failing.
    pub async fn create(&self, proposal: &Proposal) -> Result<ForgePullRequest, ForgeError> {
        let created = match self {
            Forge::Github(f) => f.create(proposal).await,
            Forge::Gitlab(f) => f.create(proposal).await,
            Forge::Gitea(f) => f.create(proposal).await,
        };
        match created {
            Ok(Some(pr)) => Ok(pr),
            Ok(None) => self
                .find_open(&proposal.head, &proposal.base)
                .await?
                .ok_or_else(|| ForgeError::InvalidResponse {
                    provider: self.name(),
                    operation: "create pull request".into(),
                    detail: "the forge says a pull request already exists, but none is open".into(),
                }),
            Err(error) => Err(error),
        }
    }

    /// Sets the title and body of pull request `number`.
    pub async fn update(
        &self,
        number: i64,
        title: &str,
        body: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        match self {
            Forge::Github(f) => f.update(number, title, body).await,
            Forge::Gitlab(f) => f.update(number, title, body).await,
            Forge::Gitea(f) => f.update(number, title, body).await,
        }
    }

    /// Pull request `number` as it is now (open, merged or closed).
    pub async fn get(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        match self {
            Forge::Github(f) => f.get(number).await,
            Forge::Gitlab(f) => f.get(number).await,
            Forge::Gitea(f) => f.get(number).await,
        }
    }

    /// The commit `branch` points at, `None` if it does not exist.
    pub async fn branch_tip(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        match self {
            Forge::Github(f) => f.branch_tip(branch).await,
            Forge::Gitlab(f) => f.branch_tip(branch).await,
            Forge::Gitea(f) => f.branch_tip(branch).await,
        }
    }

    /// Deletes `branch` (a merged head branch, so the next change starts from the new base).
    /// A branch that is already gone is fine.
    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        match self {
            Forge::Github(f) => f.delete_branch(branch).await,
            Forge::Gitlab(f) => f.delete_branch(branch).await,
            Forge::Gitea(f) => f.delete_branch(branch).await,
        }
    }

    /// `github`, `gitlab` or `gitea`.
    pub fn name(&self) -> &'static str {
        match self {
            Forge::Github(_) => github::NAME,
            Forge::Gitlab(_) => gitlab::NAME,
            Forge::Gitea(_) => gitea::NAME,
        }
    }
}
