//! Gitea and Forgejo (`/api/v1`), whose pull-request API mirrors GitHub's shapes.

use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::{ForgeError, ForgePullRequest, Proposal, Target, github::PullJson, http::Api};

pub const NAME: &str = "gitea";
/// Page size of the open-pull-request scan (Gitea caps it at its `MAX_RESPONSE_ITEMS`, 50).
const PAGE: usize = 50;
/// Pages scanned at most: 1,000 open pull requests.
const MAX_PAGES: usize = 20;

#[derive(Deserialize)]
struct BranchRef {
    #[serde(rename = "ref", default)]
    name: String,
}

/// A list entry: the pull request and the branches it joins.
#[derive(Deserialize)]
struct ListedPull {
    head: BranchRef,
    base: BranchRef,
    #[serde(flatten)]
    pull: PullJson,
}

/// A branch as Gitea and GitLab report it: its tip is `commit.id`.
#[derive(Deserialize)]
struct BranchJson {
    commit: CommitId,
}

#[derive(Deserialize)]
struct CommitId {
    id: String,
}

pub struct Gitea {
    api: Api,
    repo: String,
}

impl Gitea {
    pub fn new(
        target: &Target,
        api_url: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ForgeError> {
        let base = api_url.map_or_else(|| format!("{}/api/v1", target.origin()), str::to_owned);
        let auth = token.map(|t| (header::AUTHORIZATION, format!("token {t}")));
        let extra = [(header::ACCEPT, "application/json")];
        Ok(Gitea {
            api: Api::new(NAME, &base, auth, &extra)?,
            repo: target.path.clone(),
        })
    }

    /// Gitea's list has no head/base filter: scan the open ones.
    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "list pull requests";
        for page in 1..=MAX_PAGES {
            let path = format!(
                "/repos/{}/pulls?state=open&limit={PAGE}&page={page}",
                self.repo
            );
            let answer = self.api.send(Method::GET, &path, op, None).await?;
            let pulls: Vec<ListedPull> = match answer.status {
                StatusCode::OK => self.api.decode(op, &answer)?,
                StatusCode::NOT_FOUND => {
                    return Err(self.api.not_found(format!("repository {}", self.repo)));
                }
                _ => return Err(self.api.unexpected(op, &answer)),
            };
            let count = pulls.len();
            if let Some(found) = pulls
                .into_iter()
                .find(|p| p.head.name == head && p.base.name == base)
            {
                return Ok(Some(found.pull.into()));
            }
            if count < PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// `Ok(None)`: Gitea says one is already open for head→base (409).
    pub async fn create(&self, p: &Proposal) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "create pull request";
        let body = json!({ "title": p.title, "head": p.head, "base": p.base, "body": p.body });
        let answer = self
            .api
            .send(
                Method::POST,
                &format!("/repos/{}/pulls", self.repo),
                op,
                Some(&body),
            )
            .await?;
        match answer.status {
            StatusCode::CREATED => Ok(Some(self.api.decode::<PullJson>(op, &answer)?.into())),
            StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
                if answer.body.contains("already exists") =>
            {
                Ok(None)
            }
            StatusCode::NOT_FOUND => Err(self.api.not_found(format!("repository {}", self.repo))),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }

    pub async fn update(
        &self,
        number: i64,
        title: &str,
        body: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        let patch = json!({ "title": title, "body": body });
        let path = format!("/repos/{}/pulls/{number}", self.repo);
        let missing = format!("pull request #{number}");
        self.api
            .fetch::<PullJson>(
                Method::PATCH,
                &path,
                "update pull request",
                Some(&patch),
                &missing,
            )
            .await
            .map(Into::into)
    }

    pub async fn get(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        let path = format!("/repos/{}/pulls/{number}", self.repo);
        let missing = format!("pull request #{number}");
        self.api
            .fetch::<PullJson>(Method::GET, &path, "get pull request", None, &missing)
            .await
            .map(Into::into)
    }

    pub async fn branch_tip(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        let path = format!("/repos/{}/branches/{branch}", self.repo);
        let branch: Option<BranchJson> = self
            .api
            .fetch_opt(Method::GET, &path, "get branch", None)
            .await?;
        Ok(branch.map(|b| b.commit.id))
    }

    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let op = "delete head branch";
        let path = format!("/repos/{}/branches/{branch}", self.repo);
        let answer = self.api.send(Method::DELETE, &path, op, None).await?;
        match answer.status {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }
}
