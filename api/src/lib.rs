//! The `gco.galos.one/v1` API of git-change-operator.
//!
//! [`GitCommit`] and [`PullRequest`] (namespaced) export live cluster objects into Git;
//! [`GitExportPolicy`] (cluster-scoped) is the cluster admins' say over what may be exported,
//! where to. This crate holds the types, the CRDs generated from them, and the pure logic
//! shared by the controller and the webhook. It does no I/O.
#![forbid(unsafe_code)]

pub mod common;
pub mod crd;
pub mod gitcommit;
pub mod kind;
pub mod paths;
pub mod placeholders;
pub mod policy;
pub mod pullrequest;
pub mod reference;
pub mod repo_url;
pub mod rules;
pub mod selector;
pub mod status;

pub use common::{
    AuthRef, CommitSpec, ExportSpec, FileEncryption, FileSpec, OutputSpec, ResourceReference,
    SigningKeyRef, Strategy, Target, WriteMode,
};
pub use gitcommit::{GitCommit, GitCommitSpec, GitCommitStatus, GitRepository};
pub use kind::{ExportKind, is_secret, split_api_version};
pub use policy::{GitExportPolicy, GitExportPolicySpec};
pub use pullrequest::{
    ForgeProvider, PullRequest, PullRequestOptions, PullRequestRepository, PullRequestSpec,
    PullRequestState, PullRequestStatus,
};
pub use repo_url::{RepoUrl, redact_url};
pub use status::{
    ConditionReason, ConditionType, EncryptedFile, ExportStatus, Inventory, InventoryFile, Phase,
    RunRecord, RunResult, RunState,
};

/// The API group of every kind in this crate.
pub const GROUP: &str = "gco.galos.one";
/// The one served and stored version.
pub const VERSION: &str = "v1";
