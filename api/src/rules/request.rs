//! The view of a GitCommit or PullRequest that the rules read: the parts both kinds share,
//! plus the few that only a PullRequest has.

use crate::common::{CommitSpec, ExportSpec};
use crate::gitcommit::GitCommitSpec;
use crate::kind::ExportKind;
use crate::pullrequest::{ForgeProvider, PullRequestOptions, PullRequestSpec};

/// One export to check: where it is, what it writes, where to.
#[derive(Clone, Copy, Debug)]
pub struct ExportRequest<'a> {
    /// Namespace of the GitCommit or PullRequest.
    pub namespace: &'a str,
    /// Name of the GitCommit or PullRequest, set with [`ExportRequest::named`]; `None` where
    /// it is not known yet (a `generateName` create at admission). A PullRequest's derived head
    /// branch `<branchPrefix>/<namespace>-<name>` is only checked in full with it.
    pub name: Option<&'a str>,
    pub kind: ExportKind,
    /// `spec.repository.url`.
    pub url: &'a str,
    /// GitCommit `spec.repository.branch` / PullRequest `spec.repository.baseBranch`.
    pub branch: &'a str,
    /// `spec.commit`.
    pub commit: Option<&'a CommitSpec>,
    /// The flattened files, references, write mode and schedule.
    pub export: &'a ExportSpec,
    /// PullRequest `spec.pullRequest`.
    pub pull_request: Option<&'a PullRequestOptions>,
    /// PullRequest `spec.repository.provider`.
    pub provider: Option<ForgeProvider>,
    /// PullRequest `spec.repository.apiURL`.
    pub api_url: Option<&'a str>,
    /// `spec.auth.secretName`: the credentials Secret, in `namespace`.
    pub auth_secret: Option<&'a str>,
    /// GitCommit `spec.ttlSecondsAfterFinished`.
    pub ttl_seconds_after_finished: Option<u32>,
    /// GitCommit `spec.prune`.
    pub prune: bool,
}

impl<'a> ExportRequest<'a> {
    /// The view of a GitCommit spec in `namespace`.
    pub fn git_commit(namespace: &'a str, spec: &'a GitCommitSpec) -> Self {
        Self {
            namespace,
            name: None,
            kind: ExportKind::GitCommit,
            url: &spec.repository.url,
            branch: spec.repository.branch(),
            commit: spec.commit.as_ref(),
            export: &spec.export,
            pull_request: None,
            provider: None,
            api_url: None,
            auth_secret: spec.auth.as_ref().map(|a| a.secret_name.as_str()),
            ttl_seconds_after_finished: spec.ttl_seconds_after_finished,
            prune: spec.prune,
        }
    }

    /// The view of a PullRequest spec in `namespace`.
    pub fn pull_request(namespace: &'a str, spec: &'a PullRequestSpec) -> Self {
        Self {
            namespace,
            name: None,
            kind: ExportKind::PullRequest,
            url: &spec.repository.url,
            branch: spec.repository.base_branch(),
            commit: spec.commit.as_ref(),
            export: &spec.export,
            pull_request: Some(&spec.pull_request),
            provider: spec.repository.provider,
            api_url: spec.repository.api_url.as_deref(),
            auth_secret: spec.auth.as_ref().map(|a| a.secret_name.as_str()),
            ttl_seconds_after_finished: None,
            prune: false,
        }
    }

    /// The same view, for the object named `name` when it has one yet (`generateName`).
    pub fn named_if(self, name: Option<&'a str>) -> Self {
        Self { name, ..self }
    }

    /// The same view, for the object named `name`.
    pub fn named(self, name: &'a str) -> Self {
        Self {
            name: Some(name),
            ..self
        }
    }
}
