//! The GitHub REST dialect, spoken by GitHub (github.com, and GitHub Enterprise Server through
//! `apiURL`) and by Gitea/Forgejo (`/api/v1`), whose pull-request API mirrors GitHub's
//! shapes. One client; [`Flavor`] holds what really differs: the default API base, the auth
//! header, how the open pull request is found, how a duplicate is reported, the branch's tip
//! field and how a branch is deleted.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use super::{
    ForgeError, ForgePullRequest, Proposal, Target,
    http::{Answer, Api, message_of},
    path::{query, segment},
    wire::{BranchJson, IdCommit, ListedPull, PullJson, ShaCommit},
};

const PUBLIC_API: &str = "https://api.github.com";
/// Page size of Gitea's open-pull-request scan (Gitea caps it at its `MAX_RESPONSE_ITEMS`, 50).
const GITEA_PAGE: usize = 50;
/// Pages scanned at most: 1,000 open pull requests.
const GITEA_MAX_PAGES: usize = 20;

/// Which forge speaks the dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Github,
    Gitea,
}

impl Flavor {
    /// `github` or `gitea`.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Github => "github",
            Flavor::Gitea => "gitea",
        }
    }

    /// The API base when the spec gives no `apiURL`.
    fn default_api(self, target: &Target) -> String {
        match self {
            Flavor::Github if matches!(target.host(), "github.com" | "www.github.com") => {
                PUBLIC_API.to_owned()
            }
            // GitHub Enterprise Server serves its API under /api/v3 of the web host.
            Flavor::Github => format!("{}/api/v3", target.origin()),
            Flavor::Gitea => format!("{}/api/v1", target.origin()),
        }
    }

    fn auth(self, token: &str) -> (header::HeaderName, String) {
        let scheme = match self {
            Flavor::Github => "Bearer",
            Flavor::Gitea => "token",
        };
        (header::AUTHORIZATION, format!("{scheme} {token}"))
    }

    fn headers(self) -> Vec<(header::HeaderName, &'static str)> {
        match self {
            Flavor::Github => vec![
                (header::ACCEPT, "application/vnd.github+json"),
                (
                    header::HeaderName::from_static("x-github-api-version"),
                    "2022-11-28",
                ),
            ],
            Flavor::Gitea => vec![(header::ACCEPT, "application/json")],
        }
    }

    /// Whether a refused create means "one is already open for head→base". GitHub: 422
    /// `{"message":"Validation Failed","errors":[{"message":"A pull request already exists
    /// for owner:branch."}]}`; Gitea: 409 (or 422) with "already exists".
    fn is_duplicate(self, answer: &Answer) -> bool {
        match self {
            Flavor::Github => {
                answer.status == StatusCode::UNPROCESSABLE_ENTITY
                    && (answer.body.contains("already exists")
                        || message_of(&answer.body).contains("already exists"))
            }
            Flavor::Gitea => {
                matches!(
                    answer.status,
                    StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
                ) && answer.body.contains("already exists")
            }
        }
    }
}

/// A client for one repository on a GitHub-dialect forge.
pub struct Github {
    flavor: Flavor,
    pub(super) api: Api,
    /// `owner/name`, for messages.
    repo: String,
    /// `/repos/{owner}/{name}`, each segment encoded.
    repo_path: String,
    owner: String,
}

impl Github {
    pub fn new(
        flavor: Flavor,
        target: &Target,
        api_url: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ForgeError> {
        let path = target.path();
        if !path.is_owner_and_name() {
            return Err(ForgeError::InvalidUrl {
                url: target.url().to_owned(),
                reason: format!(
                    "a {} repository is named `<owner>/<name>`, not {:?}",
                    flavor.name(),
                    path.as_str()
                ),
            });
        }
        let base = api_url.map_or_else(|| flavor.default_api(target), str::to_owned);
        let auth = token.map(|t| flavor.auth(t));
        Ok(Github {
            flavor,
            api: Api::new(flavor.name(), &base, auth, &flavor.headers())?,
            repo: path.as_str().to_owned(),
            repo_path: format!(
                "/repos/{}/{}",
                segment(path.owner())?,
                segment(path.name())?
            ),
            owner: path.owner().to_owned(),
        })
    }

    pub fn name(&self) -> &'static str {
        self.flavor.name()
    }

    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        match self.flavor {
            Flavor::Github => self.find_open_filtered(head, base).await,
            Flavor::Gitea => self.find_open_scanning(head, base).await,
        }
    }

    /// GitHub filters by `head=owner:branch` and `base`.
    async fn find_open_filtered(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "list pull requests";
        let path = format!(
            "{}/pulls?state=open&head={}&base={}&per_page=100",
            self.repo_path,
            query(&format!("{}:{head}", self.owner)),
            query(base)
        );
        let answer = self.api.send(Method::GET, &path, op, None).await?;
        match answer.status {
            StatusCode::OK => {
                let pulls: Vec<PullJson> = self.api.decode(op, &answer)?;
                Ok(pulls.into_iter().next().map(Into::into))
            }
            StatusCode::NOT_FOUND => Err(self.missing_repository()),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }

    /// Gitea's list has no head/base filter: scan the open ones, page by page.
    async fn find_open_scanning(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "list pull requests";
        for page in 1..=GITEA_MAX_PAGES {
            let path = format!(
                "{}/pulls?state=open&limit={GITEA_PAGE}&page={page}",
                self.repo_path
            );
            let answer = self.api.send(Method::GET, &path, op, None).await?;
            let pulls: Vec<ListedPull> = match answer.status {
                StatusCode::OK => self.api.decode(op, &answer)?,
                StatusCode::NOT_FOUND => return Err(self.missing_repository()),
                _ => return Err(self.api.unexpected(op, &answer)),
            };
            let count = pulls.len();
            if let Some(found) = pulls
                .into_iter()
                .find(|p| p.head.name == head && p.base.name == base)
            {
                return Ok(Some(found.pull.into()));
            }
            if count < GITEA_PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// `Ok(None)`: the forge says one is already open for head→base.
    pub async fn create(&self, p: &Proposal) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "create pull request";
        let body = json!({ "title": p.title, "head": p.head, "base": p.base, "body": p.body });
        let path = format!("{}/pulls", self.repo_path);
        let answer = self.api.send(Method::POST, &path, op, Some(&body)).await?;
        match answer.status {
            StatusCode::CREATED => Ok(Some(self.api.decode::<PullJson>(op, &answer)?.into())),
            _ if self.flavor.is_duplicate(&answer) => Ok(None),
            StatusCode::NOT_FOUND => Err(self.missing_repository()),
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
        self.edit(number, &patch, "update pull request").await
    }

    pub async fn close(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        self.edit(number, &json!({ "state": "closed" }), "close pull request")
            .await
    }

    /// Applies `patch` to pull request `number`.
    async fn edit(
        &self,
        number: i64,
        patch: &serde_json::Value,
        op: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        let path = format!("{}/pulls/{number}", self.repo_path);
        let missing = format!("pull request #{number}");
        self.api
            .fetch::<PullJson>(Method::PATCH, &path, op, Some(patch), &missing)
            .await
            .map(Into::into)
    }

    pub async fn get(&self, number: i64) -> Result<ForgePullRequest, ForgeError> {
        let path = format!("{}/pulls/{number}", self.repo_path);
        let missing = format!("pull request #{number}");
        self.api
            .fetch::<PullJson>(Method::GET, &path, "get pull request", None, &missing)
            .await
            .map(Into::into)
    }

    pub async fn branch_tip(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        let path = format!("{}/branches/{}", self.repo_path, segment(branch)?);
        let op = "get branch";
        Ok(match self.flavor {
            Flavor::Github => self
                .api
                .fetch_opt::<BranchJson<ShaCommit>>(Method::GET, &path, op, None)
                .await?
                .map(|b| b.commit.sha),
            Flavor::Gitea => self
                .api
                .fetch_opt::<BranchJson<IdCommit>>(Method::GET, &path, op, None)
                .await?
                .map(|b| b.commit.id),
        })
    }

    /// GitHub deletes the branch's ref (422 "Reference does not exist" when it is already
    /// gone); Gitea deletes the branch.
    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let op = "delete head branch";
        let branch = segment(branch)?;
        let path = match self.flavor {
            Flavor::Github => format!("{}/git/refs/heads/{branch}", self.repo_path),
            Flavor::Gitea => format!("{}/branches/{branch}", self.repo_path),
        };
        let answer = self.api.send(Method::DELETE, &path, op, None).await?;
        let gone = match self.flavor {
            Flavor::Github => matches!(
                answer.status,
                StatusCode::NO_CONTENT | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY
            ),
            Flavor::Gitea => matches!(
                answer.status,
                StatusCode::NO_CONTENT | StatusCode::NOT_FOUND
            ),
        };
        if gone {
            Ok(())
        } else {
            Err(self.api.unexpected(op, &answer))
        }
    }

    fn missing_repository(&self) -> ForgeError {
        self.api.not_found(format!("repository {}", self.repo))
    }
}
