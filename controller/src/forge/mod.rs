//! Forge clients: find, open, update and follow the one pull (merge) request a PullRequest
//! keeps, on GitHub, GitLab or Gitea/Forgejo.
//!
//! ```text
//! Forge ── github::Github (Flavor::Github | Flavor::Gitea) ──┐
//!       └─ gitlab::Gitlab ─────────────────────────────────────┴─ http::Api ── wire, path
//! ```
//! Every client talks REST over [`http::Api`], which owns authentication, rate limits and the
//! rule that no token ever reaches a log line, an error or a status. Every name that goes
//! into an API path is percent-encoded by [`path`].

mod error;
mod github;
mod gitlab;
mod http;
mod path;
mod target;
mod wire;

use gco_api::{ForgeProvider, PullRequestRepository, PullRequestState, rules::infer_provider};

pub use error::ForgeError;
pub use http::{ForgeRequestLabels, ForgeRequests, MAX_WAIT};
pub use target::Target;

use github::Flavor;

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

/// What [`Forge::open_or_update`] did, for the event it announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposed {
    /// No pull request was open for head→base: one was opened.
    Opened,
    /// The open one got new commits, or its title or body were brought up to date.
    Updated,
    /// The open one already said and held everything.
    Unchanged,
}

/// A client for the forge that hosts one repository.
pub struct Forge(Client);

enum Client {
    /// GitHub and Gitea: one dialect.
    Github(github::Github),
    Gitlab(gitlab::Gitlab),
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
            None => infer_provider(target.host()).ok_or_else(|| ForgeError::UnknownProvider {
                host: target.host().to_owned(),
            })?,
        };
        let api_url = repository.api_url.as_deref();
        let dialect =
            |flavor| github::Github::new(flavor, &target, api_url, token).map(Client::Github);
        Ok(Forge(match provider {
            ForgeProvider::Github => dialect(Flavor::Github)?,
            ForgeProvider::Gitea => dialect(Flavor::Gitea)?,
            ForgeProvider::Gitlab => Client::Gitlab(gitlab::Gitlab::new(&target, api_url, token)?),
        }))
    }

    /// Counts every request this client sends in `requests` (`gco_forge_requests_total`).
    pub fn counted(mut self, requests: ForgeRequests) -> Self {
        match &mut self.0 {
            Client::Github(github) => github.api.count_in(requests),
            Client::Gitlab(gitlab) => gitlab.api.count_in(requests),
        }
        self
    }

    /// The open pull request for `proposal.head` → `proposal.base`, its title and body brought
    /// up to date; or a new one. `pushed` says the head branch got new commits, which makes an
    /// open pull request [`Proposed::Updated`] even when its text is unchanged.
    pub async fn open_or_update(
        &self,
        proposal: &Proposal,
        pushed: bool,
    ) -> Result<(ForgePullRequest, Proposed), ForgeError> {
        match self.find_open(&proposal.head, &proposal.base).await? {
            // Whitespace around a body is not worth an edit (forges may normalise it).
            Some(pr) if pr.title != proposal.title || pr.body.trim() != proposal.body.trim() => {
                let updated = self
                    .update(pr.number, &proposal.title, &proposal.body)
                    .await?;
                Ok((updated, Proposed::Updated))
            }
            Some(pr) if pushed => Ok((pr, Proposed::Updated)),
            Some(pr) => Ok((pr, Proposed::Unchanged)),
            None => Ok((self.create(proposal).await?, Proposed::Opened)),
        }
    }

    /// The open pull request from `head` into `base`, if there is one.
    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        match &self.0 {
            Client::Github(f) => f.find_open(head, base).await,
            Client::Gitlab(f) => f.find_open(head, base).await,
        }
    }

    /// Opens `proposal`; if the forge says one is already open for head→base (a race with
    /// another replica, or a lost answer), returns that one instead of failing.
    pub async fn create(&self, proposal: &Proposal) -> Result<ForgePullRequest, ForgeError> {
        let created = match &self.0 {
            Client::Github(f) => f.create(proposal).await?,
            Client::Gitlab(f) => f.create(proposal).await?,
        };
        match created {
            Some(pr) => Ok(pr),
            None => self
                .find_open(&proposal.head, &proposal.base)
                .await?
                .ok_or_else(|| ForgeError::InvalidResponse {
                    provider: self.name(),
                    operation: "create pull request".into(),
                    detail: "the forge says a pull request already exists, but none is open".into(),
                }),
        }
    }

    /// Sets the title and body of pull request `number`.
    pub async fn update(
        &self,
        number: i64,
        title: &str,
        body: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        match &self.0 {
            Client::Github(f) => f.update(number, title, body).await,
            Client::Gitlab(f) => f.update(number, title, body).await,
        }
    }

    /// Closes pull request `number` without merging it.
    pub async fn close(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        match &self.0 {
            Client::Github(f) => f.close(number).await,
            Client::Gitlab(f) => f.close(number).await,
        }
    }

    /// Pull request `number` as it is now (open, merged or closed).
    pub async fn get(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        match &self.0 {
            Client::Github(f) => f.get(number).await,
            Client::Gitlab(f) => f.get(number).await,
        }
    }

    /// The commit `branch` points at, `None` if it does not exist.
    pub async fn branch_tip(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        match &self.0 {
            Client::Github(f) => f.branch_tip(branch).await,
            Client::Gitlab(f) => f.branch_tip(branch).await,
        }
    }

    /// Deletes `branch` (a merged head branch, so the next change starts from the new base,
    /// or the head branch of a deleted PullRequest). A branch that is already gone is fine.
    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        match &self.0 {
            Client::Github(f) => f.delete_branch(branch).await,
            Client::Gitlab(f) => f.delete_branch(branch).await,
        }
    }

    /// `github`, `gitlab` or `gitea`.
    pub fn name(&self) -> &'static str {
        match &self.0 {
            Client::Github(f) => f.name(),
            Client::Gitlab(_) => gitlab::NAME,
        }
    }
}

#[cfg(test)]
mod tests;
