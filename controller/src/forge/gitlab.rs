//! GitLab merge requests (gitlab.com and self-managed, API v4). Its own client, since its
//! API shares no shapes with GitHub's; requests, wire types and path encoding are shared.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use super::{
    ForgeError, ForgePullRequest, Proposal, Target,
    http::Api,
    path::{query, segment},
    wire::{BranchJson, IdCommit, MergeRequestJson},
};

pub const NAME: &str = "gitlab";

pub struct Gitlab {
    pub(super) api: Api,
    /// The URL-encoded project path, GitLab's project id in URLs.
    project: String,
}

impl Gitlab {
    pub fn new(
        target: &Target,
        api_url: Option<&str>,
        token: Option<&str>,
    ) -> Result<Self, ForgeError> {
        let base = api_url.map_or_else(|| format!("{}/api/v4", target.origin()), str::to_owned);
        // GitLab accepts personal, project and group access tokens as OAuth-style bearers.
        let auth = token.map(|t| (header::AUTHORIZATION, format!("Bearer {t}")));
        Ok(Gitlab {
            api: Api::new(NAME, &base, auth, &[(header::ACCEPT, "application/json")])?,
            // One segment: `group/sub/name` becomes `group%2Fsub%2Fname`.
            project: segment(target.path().as_str())?,
        })
    }

    fn mr_path(&self, iid: i64) -> String {
        format!("/projects/{}/merge_requests/{iid}", self.project)
    }

    pub async fn find_open(
        &self,
        head: &str,
        base: &str,
    ) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "list merge requests";
        let path = format!(
            "/projects/{}/merge_requests?state=opened&source_branch={}&target_branch={}",
            self.project,
            query(head),
            query(base)
        );
        let answer = self.api.send(Method::GET, &path, op, None).await?;
        match answer.status {
            StatusCode::OK => {
                let mrs: Vec<MergeRequestJson> = self.api.decode(op, &answer)?;
                Ok(mrs.into_iter().next().map(Into::into))
            }
            StatusCode::NOT_FOUND => Err(self.api.not_found("project")),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }

    /// `Ok(None)`: GitLab says one is already open for this source branch (409).
    pub async fn create(&self, p: &Proposal) -> Result<Option<ForgePullRequest>, ForgeError> {
        let op = "create merge request";
        let body = json!({
            "source_branch": p.head, "target_branch": p.base, "title": p.title, "description": p.body,
        });
        let path = format!("/projects/{}/merge_requests", self.project);
        let answer = self.api.send(Method::POST, &path, op, Some(&body)).await?;
        match answer.status {
            StatusCode::CREATED => Ok(Some(
                self.api.decode::<MergeRequestJson>(op, &answer)?.into(),
            )),
            StatusCode::CONFLICT => Ok(None),
            StatusCode::NOT_FOUND => Err(self.api.not_found("project")),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }

    pub async fn update(
        &self,
        iid: i64,
        title: &str,
        body: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        let put = json!({ "title": title, "description": body });
        self.edit(iid, &put, "update merge request").await
    }

    pub async fn close(&self, iid: i64) -> Result<ForgePullRequest, ForgeError> {
        self.edit(
            iid,
            &json!({ "state_event": "close" }),
            "close merge request",
        )
        .await
    }

    /// Applies `put` to merge request `iid`.
    async fn edit(
        &self,
        iid: i64,
        put: &serde_json::Value,
        op: &str,
    ) -> Result<ForgePullRequest, ForgeError> {
        let missing = format!("merge request !{iid}");
        self.api
            .fetch::<MergeRequestJson>(Method::PUT, &self.mr_path(iid), op, Some(put), &missing)
            .await
            .map(Into::into)
    }

    pub async fn get(&self, iid: i64) -> Result<ForgePullRequest, ForgeError> {
        let missing = format!("merge request !{iid}");
        self.api
            .fetch::<MergeRequestJson>(
                Method::GET,
                &self.mr_path(iid),
                "get merge request",
                None,
                &missing,
            )
            .await
            .map(Into::into)
    }

    pub async fn branch_tip(&self, branch: &str) -> Result<Option<String>, ForgeError> {
        let path = format!(
            "/projects/{}/repository/branches/{}",
            self.project,
            segment(branch)?
        );
        let branch: Option<BranchJson<IdCommit>> = self
            .api
            .fetch_opt(Method::GET, &path, "get branch", None)
            .await?;
        Ok(branch.map(|b| b.commit.id))
    }

    pub async fn delete_branch(&self, branch: &str) -> Result<(), ForgeError> {
        let op = "delete source branch";
        let path = format!(
            "/projects/{}/repository/branches/{}",
            self.project,
            segment(branch)?
        );
        let answer = self.api.send(Method::DELETE, &path, op, None).await?;
        match answer.status {
            StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => Ok(()),
            _ => Err(self.api.unexpected(op, &answer)),
        }
    }
}
