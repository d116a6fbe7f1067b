//! Status vocabulary shared by GitCommit and PullRequest: conditions, reasons, phases and the
//! bounded run history. The conditions follow Flux and kstatus so that `kubectl wait`, Flux
//! health checks and dashboards read them without special cases.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many runs `status.history` keeps, newest first, when `spec.historyLimit` is not set.
pub const DEFAULT_HISTORY_LIMIT: usize = 10;
/// The most runs `spec.historyLimit` may ask `status.history` to keep.
pub const MAX_HISTORY_LIMIT: usize = 100;

/// The condition types the operator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// True when the last run for the current generation succeeded.
    Ready,
    /// Present (True) only while a run is in progress.
    Reconciling,
    /// Present (True) only when the operator will not retry until something changes.
    Stalled,
}

impl ConditionType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Reconciling => "Reconciling",
            Self::Stalled => "Stalled",
        }
    }
}

/// The reasons conditions and events carry (Flux's vocabulary where one exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionReason {
    Succeeded,
    Progressing,
    ProgressingWithRetry,
    AuthenticationFailed,
    PushRejected,
    RenderFailed,
    PolicyDenied,
    ReferenceNotFound,
    HeadBranchDiverged,
    RetriesExhausted,
    AccessDenied,
}

impl ConditionReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Progressing => "Progressing",
            Self::ProgressingWithRetry => "ProgressingWithRetry",
            Self::AuthenticationFailed => "AuthenticationFailed",
            Self::PushRejected => "PushRejected",
            Self::RenderFailed => "RenderFailed",
            Self::PolicyDenied => "PolicyDenied",
            Self::ReferenceNotFound => "ReferenceNotFound",
            Self::HeadBranchDiverged => "HeadBranchDiverged",
            Self::RetriesExhausted => "RetriesExhausted",
            Self::AccessDenied => "AccessDenied",
        }
    }
}

// A one-word summary for humans; tools read the conditions. (No type-level doc comment:
// schemars would put it in place of the field docs of the CRD schema.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// Accepted, not yet run.
    Pending,
    /// A run is in progress.
    Running,
    /// The last run committed (or found nothing to change). GitCommit only.
    Committed,
    /// The pull request is open or up to date. PullRequest only.
    Created,
    /// The last run failed; see the Ready condition.
    Failed,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RunResult {
    /// A commit was pushed.
    Committed,
    /// The branch already held the rendered content.
    NoChanges,
    /// The run failed.
    Failed,
}

/// One past run, as kept in `status.history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// When the run ended.
    pub time: Time,
    /// The commit the run pushed, if any.
    #[serde(default, rename = "commitSHA", skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// How the run ended.
    pub result: RunResult,
}

/// Observed state shared by GitCommit and PullRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportStatus {
    /// The generation the Ready condition describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled, in the shape of metav1.Condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// A one-word summary for humans: Pending, Running, Committed (GitCommit) or Created
    /// (PullRequest), or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The last commit pushed (or found already on the branch).
    #[serde(default, rename = "commitSHA", skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// When the last run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<Time>,
    /// A human-readable summary of the last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The last `reconcile.fluxcd.io/requestedAt` or `gco.galos.one/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// When the schedule next fires, if `spec.schedule` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_scheduled_time: Option<Time>,
    /// The current or last run: its identity and the one instant its placeholders render, kept
    /// so that a retried or resumed run renders the same `$(date)` values and is recognised on
    /// the branch by its `Gco-Run` trailer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunState>,
    /// The most recent runs, newest first: at most `spec.historyLimit` (default 10, at most
    /// 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub history: Vec<RunRecord>,
    /// With a GitCommit's `spec.prune`: the files its last successful run wrote, and where.
    /// The next run deletes those it no longer writes, and deleting the GitCommit deletes them
    /// all. Absent without prune.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// The files the last successful run wrote encrypted with age, with the digest of what
    /// each holds. At most 1000. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub encrypted_files: Vec<EncryptedFile>,
}

/// A file the object wrote encrypted with age, and the keyed digest of what it holds: a run
/// whose file would hold the same leaves it as it is (encryption never gives the same bytes
/// twice).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedFile {
    /// Path from the repository root.
    #[schemars(length(max = 4096))]
    pub path: String,
    /// HMAC-SHA256 of the plaintext and the recipients, keyed by a Secret only the operator
    /// reads, hex.
    #[schemars(length(max = 64))]
    pub digest: String,
}

/// The most bytes of paths and blob ids an inventory holds: a status stays far below etcd's
/// object size limit whatever the paths.
pub const MAX_INVENTORY_BYTES: usize = 256 * 1024;

/// What a pruning GitCommit wrote, and where: files are only ever deleted on the branch they
/// were written to, and only while they still hold what the object wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// The repository URL, as the spec named it when the files were written.
    #[schemars(length(max = 2048))]
    pub repository: String,
    /// The branch the files were written to.
    #[schemars(length(max = 255))]
    pub branch: String,
    /// The files the object overwrites, sorted by path (appended files are shared, and never
    /// deleted). At most 1000, and 262144 bytes of paths and blob ids together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub files: Vec<InventoryFile>,
}

/// One file of an inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryFile {
    /// Path from the repository root.
    #[schemars(length(max = 4096))]
    pub path: String,
    /// The Git blob id of what the object wrote: a file whose content differs (someone else
    /// rewrote it) is not deleted.
    #[schemars(length(max = 64))]
    pub blob: String,
}

/// The identity and instant of a run, recorded before it pushes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunState {
    /// The run's identity, also written as the commit's `Gco-Run` trailer.
    pub id: String,
    /// The instant every placeholder of the run renders.
    pub time: Time,
    /// True once the run has pushed, or found the branch already up to date.
    #[serde(default)]
    pub done: bool,
}

/// Every kind's status holds an [`ExportStatus`]; the controller reads and writes it there.
impl AsRef<ExportStatus> for ExportStatus {
    fn as_ref(&self) -> &ExportStatus {
        self
    }
}

impl AsMut<ExportStatus> for ExportStatus {
    fn as_mut(&mut self) -> &mut ExportStatus {
        self
    }
}
