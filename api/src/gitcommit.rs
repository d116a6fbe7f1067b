//! `GitCommit`: export objects and files into commits on one branch.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{AuthRef, CommitSpec, ExportSpec};
use crate::status::ExportStatus;

/// The branch a GitCommit writes to when none is given.
pub const DEFAULT_BRANCH: &str = "main";

/// Commits files and live cluster objects to a branch of a Git repository, on change, on a
/// schedule, or on request.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "gco.galos.one",
    version = "v1",
    kind = "GitCommit",
    namespaced,
    status = "GitCommitStatus",
    shortname = "gcommit",
    category = "gco",
    derive = "PartialEq",
    doc = "GitCommit commits files and live cluster objects to a branch of a Git repository, on change, on a schedule or on request.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Repository","type":"string","jsonPath":".spec.repository.url"}"#,
    printcolumn = r#"{"name":"Branch","type":"string","jsonPath":".spec.repository.branch"}"#,
    printcolumn = r#"{"name":"Commit","type":"string","jsonPath":".status.commitSHA"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitCommitSpec {
    /// The repository and branch to commit to. Required.
    pub repository: GitRepository,
    /// Credentials for the repository. Default: none (anonymous access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthRef>,
    /// Author, message and signing key of the commits. Default: author and message defaults
    /// below; not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSpec>,
    /// What to write, and when.
    #[serde(flatten)]
    pub export: ExportSpec,
    /// For a one-shot export (no `schedule`): the GitCommit is deleted this many seconds after
    /// its last successful run, while it is Ready for its current generation (a failing or
    /// suspended GitCommit stays for people to look at). 0 to 31536000 (365 days). Refused
    /// together with `schedule`. Default: none (kept until deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 31_536_000))]
    pub ttl_seconds_after_finished: Option<u32>,
    /// When true, files this GitCommit wrote before and no longer writes (an object deleted or
    /// no longer selected, a key removed, an output path changed) are deleted in the run's
    /// commit, and deleting the GitCommit deletes its files in one last commit (`status.inventory`
    /// lists them). A path with `$(date)` in it writes a new file at each run: with prune,
    /// only the newest stays. Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
}

/// A Git repository and the branch a GitCommit writes to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepository {
    /// Repository URL, `https://…` or `ssh://…` (`http://` and `file://` only where a
    /// GitExportPolicy allows them). Must not carry credentials. At most 2048 characters.
    /// Required; no default.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Branch to commit to; created from nothing if the repository lacks it. At most 255
    /// characters. Default: the matching GitExportPolicy's `defaults.branch`, else `main`
    /// (filled in by the admission webhook, or by the controller when the object reached it
    /// without the webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub branch: Option<String>,
}

impl GitRepository {
    /// `branch`, or the built-in default `main` where no default has been filled in.
    pub fn branch(&self) -> &str {
        self.branch.as_deref().unwrap_or(DEFAULT_BRANCH)
    }
}

/// Observed state of a GitCommit: the status every export kind shares.
pub type GitCommitStatus = ExportStatus;
