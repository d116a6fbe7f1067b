//! GitHub REST v3 (github.com, and GitHub Enterprise Server through `apiURL`).

use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::{
    ForgeError, ForgePullRequest, Proposal, Target,
    http::{Answer, Api, message_of},
};
use gco_api::PullRequestState;

pub const NAME: &str = "github";
const PUBLIC_API: &str = "https://api.github.com";

/// The pull-request shape GitHub documents, which Gitea mirrors.
#[derive(Deserialize)]
pub struct PullJson {
    pub number: i64,
    pub html_url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub state: String,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
}

impl From<PullJson> for ForgePullRequest {
    fn from(pr: PullJson) -> Self {
        let merged = pr.merged.unwrap_or(false) || pr.merged_at.is_some();
        ForgePullRequest {
            number: pr.number,
            url: pr.html_url,
            title: pr.title,
            body: pr.body.unwrap_or_default(),
            state: match (pr.state.as_str(), merged) {
                (_, true) => PullRequestState::Merged,
                ("open", _) => PullRequestState::Open,
                _ => PullRequestState::Closed,
            },
        }
    }
}

pub struct Github {
    api: Api,
    repo: String,
    owner: String,
}

impl Github {
    pub fn new(
        target: &Target,
        api_url: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ForgeError> {
        let base = match api_url {
            Some(url) => url.to_owned(),
            None if target.host == "github.com" || target.host == "www.github.com" => {
                PUBLIC_API.to_owned()
            }
            // GitHub Enterprise Server serves its API under /api/v3 of the web host.
            None => format!("{}/api/v3", target.origin()),
        };
        let auth = token.map(|t| (header::AUTHORIZATION, format!("Bearer {t}")));
        let extra = [
            (header::ACCEPT, "application/vnd.github+json"),
            (
                header::HeaderName::from_static("x-github-api-version"),
                "2022-11-28",
            ),
        ];
        Ok(Github {
            api: Api::new(NAME, &base, auth, &extra)?,
            repo: target.path.clone(),
            owner: target.owner().to_owned(),
        })
    }

    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "list pull requests";
        let path = format!(
            "/repos/{}/pulls?state=open&head={}&base={}&per_page=100",
            self.repo,
            encode(&format!("{}:{head}", self.owner)),
            encode(base)
        );
        let answer = self.api.send(Method::GET, &path, op, None).await?;
        match answer.status {
            StatusCode::OK => {
                let pulls: Vec<PullJson> = self.api.decode(op, &answer)?;
                Ok(pulls.into_iter().next().map(Into::into))
            }
            StatusCode::NOT_FOUND => Err(self.api.not_found(format!("repository {}", self.repo))),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }

    /// `Ok(None)`: GitHub says one is already open for head→base (422).
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
            StatusCode::UNPROCESSABLE_ENTITY if already_exists(&answer) => Ok(None),
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
        #[derive(Deserialize)]
        struct Commit {
            sha: String,
        }
        #[derive(Deserialize)]
        struct Branch {
            commit: Commit,
        }
        let path = format!("/repos/{}/branches/{branch}", self.repo);
        let branch: Option<Branch> = self
            .api
            .fetch_opt(Method::GET, &path, "get branch", None)
            .await?;
        Ok(branch.map(|b| b.commit.sha))
    }

    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let op = "delete head branch";
        let path = format!("/repos/{}/git/refs/heads/{branch}", self.repo);
        let answer = self.api.send(Method::DELETE, &path, op, None).await?;
        match answer.status {
            // 422 "Reference does not exist": already gone.
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
                Ok(())
            }
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }
}

/// GitHub's 422 for a duplicate: `{"message":"Validation Failed","errors":[{"message":"A pull
/// request already exists for owner:branch."}]}`.
fn already_exists(answer: &Answer) -> bool {
    answer.body.contains("already exists") || message_of(&answer.body).contains("already exists")
}

/// Percent-encodes a query or path segment (everything but RFC 3986 unreserved characters).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
