//! The JSON the forges send, as documented: GitHub's pull request (which Gitea mirrors),
//! GitLab's merge request, and the branch shapes (`commit.sha` on GitHub, `commit.id` on
//! Gitea and GitLab). Only the fields the operator reads; the rest is ignored.

use serde::Deserialize;

use super::ForgePullRequest;
use gco_api::PullRequestState;

/// A pull request on GitHub or Gitea.
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

/// A list entry: the pull request and the branches it joins (`head.ref`, `base.ref`).
#[derive(Deserialize)]
pub struct ListedPull {
    pub head: BranchRef,
    pub base: BranchRef,
    #[serde(flatten)]
    pub pull: PullJson,
}

#[derive(Deserialize)]
pub struct BranchRef {
    #[serde(rename = "ref", default)]
    pub name: String,
}

/// A GitLab merge request.
#[derive(Deserialize)]
pub struct MergeRequestJson {
    pub iid: i64,
    pub web_url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub state: String,
}

impl From<MergeRequestJson> for ForgePullRequest {
    fn from(mr: MergeRequestJson) -> Self {
        ForgePullRequest {
            number: mr.iid,
            url: mr.web_url,
            title: mr.title,
            body: mr.description.unwrap_or_default(),
            state: match mr.state.as_str() {
                "opened" | "locked" => PullRequestState::Open,
                "merged" => PullRequestState::Merged,
                _ => PullRequestState::Closed,
            },
        }
    }
}

/// A branch; `C` is how the forge names its tip commit.
#[derive(Deserialize)]
pub struct BranchJson<C> {
    pub commit: C,
}

/// GitHub's tip: `commit.sha`.
#[derive(Deserialize)]
pub struct ShaCommit {
    pub sha: String,
}

/// Gitea's and GitLab's tip: `commit.id`.
#[derive(Deserialize)]
pub struct IdCommit {
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shapes_decode() {
        let pr: ForgePullRequest = serde_json::from_str::<PullJson>(
            r#"{"number":3,"html_url":"u","title":"t","body":null,"state":"closed","merged_at":"2026-01-01T00:00:00Z"}"#,
        )
        .expect("pull")
        .into();
        assert_eq!(
            (pr.number, pr.state, pr.body.as_str()),
            (3, PullRequestState::Merged, "")
        );
        let listed: ListedPull = serde_json::from_str(
            r#"{"number":4,"html_url":"u","state":"open","merged":false,"head":{"ref":"gco/x"},"base":{"ref":"main"}}"#,
        )
        .expect("listed");
        assert_eq!(
            (listed.head.name.as_str(), listed.base.name.as_str()),
            ("gco/x", "main")
        );
        let mr: ForgePullRequest = serde_json::from_str::<MergeRequestJson>(
            r#"{"iid":5,"web_url":"u","title":"t","description":"d","state":"locked"}"#,
        )
        .expect("mr")
        .into();
        assert_eq!(mr.state, PullRequestState::Open);
        let github: BranchJson<ShaCommit> =
            serde_json::from_str(r#"{"name":"b","commit":{"sha":"abc","url":"u"}}"#).expect("sha");
        let gitea: BranchJson<IdCommit> =
            serde_json::from_str(r#"{"name":"b","commit":{"id":"def","message":"m"}}"#)
                .expect("id");
        assert_eq!(
            (github.commit.sha.as_str(), gitea.commit.id.as_str()),
            ("abc", "def")
        );
    }
}
