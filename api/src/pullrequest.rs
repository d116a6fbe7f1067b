//! `PullRequest`: export objects and files onto a head branch and keep one pull request open.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{AuthRef, CommitSpec, ExportSpec};
use crate::gitcommit::DEFAULT_BRANCH;
use crate::status::ExportStatus;

/// The head-branch prefix when none is given: head branch `gco/<namespace>-<name>`.
pub const DEFAULT_BRANCH_PREFIX: &str = "gco";

/// Proposes files and live cluster objects as a pull (merge) request against a base branch,
/// and keeps that one pull request up to date.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "gco.galos.one",
    version = "v1",
    kind = "PullRequest",
    namespaced,
    status = "PullRequestStatus",
    shortname = "gpr",
    category = "gco",
    derive = "PartialEq",
    doc = "PullRequest proposes files and live cluster objects as a pull request against a base branch and keeps that one pull request up to date.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Repository","type":"string","jsonPath":".spec.repository.url"}"#,
    printcolumn = r#"{"name":"PR","type":"string","jsonPath":".status.pullRequestURL"}"#,
    printcolumn = r#"{"name":"Commit","type":"string","jsonPath":".status.headSHA"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestSpec {
    /// The repository, its base branch and its forge. Required.
    pub repository: PullRequestRepository,
    /// Credentials for Git and the forge API. The API token is `token`, else `bearerToken`,
    /// else (for an https Secret, never an ssh one) `password`.
    /// Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRef>,
    /// Title, body and head branch of the pull request. Required.
    pub pull_request: PullRequestOptions,
    /// Author, message and signing key of the commits on the head branch. Default: author
    /// from policy, else `Git Change Operator <gco@localhost>`; message
    /// `Changes for PR: <title>`; not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSpec>,
    /// What to write, and when.
    #[serde(flatten)]
    pub export: ExportSpec,
}

// The forge that hosts the repository (no type-level doc: it would replace the field docs in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeProvider {
    /// GitHub or GitHub Enterprise (REST v3).
    Github,
    /// GitLab, gitlab.com or self-managed (merge requests).
    Gitlab,
    /// Gitea or Forgejo.
    Gitea,
}

/// A repository on a forge, and the branch pull requests target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestRepository {
    /// Repository URL, `https://…` or `ssh://…`; must not carry credentials. At most 2048
    /// characters. Required; no default.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Branch the pull request targets; at most 255 characters. Default: the matching
    /// GitExportPolicy's `defaults.branch`, else `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub base_branch: Option<String>,
    /// Forge API: `github`, `gitlab` or `gitea`. Default: inferred from the host for github.com
    /// and gitlab.com; required for any other host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ForgeProvider>,
    /// Base URL of the forge API, for GitHub Enterprise and self-hosted forges
    /// (e.g. `https://git.example.com/api/v1`); at most 2048 characters. Default: the
    /// provider's public API.
    #[serde(default, rename = "apiURL", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub api_url: Option<String>,
}

/// The pull request the operator keeps open.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestOptions {
    /// Title; may use `$(date)` placeholders. At most 256 characters (what forges accept).
    /// Required; no default.
    #[schemars(length(min = 1, max = 256))]
    pub title: String,
    /// Body (Markdown); may use `$(date)` placeholders. At most 65536 characters. Default:
    /// empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(max = 65536))]
    pub body: String,
    /// Prefix of the head branch `<branchPrefix>/<namespace>-<name>`; at most 100
    /// characters. The head branch must match the policies' branch globs. Default: the
    /// matching GitExportPolicy's `defaults.branchPrefix`, else `gco`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub branch_prefix: Option<String>,
    /// Explicit head branch; overrides `branchPrefix`. At most 255 characters; not the base
    /// branch, and it must match the policies' branch globs. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub head_branch: Option<String>,
    /// Keep the pull request open and its head branch when this PullRequest is deleted.
    /// Default: false, the operator closes the pull request and deletes the head branch (if
    /// it still holds the commit the operator pushed) before the object goes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_on_deletion: bool,
}

impl PullRequestRepository {
    /// `baseBranch`, or the built-in default `main` where no default has been filled in.
    pub fn base_branch(&self) -> &str {
        self.base_branch.as_deref().unwrap_or(DEFAULT_BRANCH)
    }
}

impl PullRequestOptions {
    /// `branchPrefix`, or the built-in default `gco` where no default has been filled in.
    pub fn branch_prefix(&self) -> &str {
        self.branch_prefix
            .as_deref()
            .unwrap_or(DEFAULT_BRANCH_PREFIX)
    }
}

// State of the pull request on the forge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestState {
    Open,
    Merged,
    Closed,
}

/// Observed state of a PullRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestStatus {
    /// Conditions, phase, history and the other fields every export kind has.
    #[serde(flatten)]
    pub export: ExportStatus,
    /// Number of the pull request on the forge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request_number: Option<i64>,
    /// Web URL of the pull request.
    #[serde(
        default,
        rename = "pullRequestURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_request_url: Option<String>,
    /// The head branch the operator pushes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_branch: Option<String>,
    /// The commit the operator last pushed to the head branch.
    #[serde(default, rename = "headSHA", skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// `open`, `merged` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request_state: Option<PullRequestState>,
}

impl AsRef<ExportStatus> for PullRequestStatus {
    fn as_ref(&self) -> &ExportStatus {
        &self.export
    }
}

impl AsMut<ExportStatus> for PullRequestStatus {
    fn as_mut(&mut self) -> &mut ExportStatus {
        &mut self.export
    }
}
