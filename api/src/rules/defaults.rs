//! The values the mutating webhook fills in, and the controller falls back to, when a spec
//! leaves a field empty: from the first matching policy (by name) that sets one, else built in.

use kube::ResourceExt;

use super::{ExportKind, ExportRequest, repository::infer_provider};
use crate::common::WriteMode;
use crate::gitcommit::DEFAULT_BRANCH;
use crate::policy::{GitExportPolicy, PolicyDefaults};
use crate::pullrequest::{DEFAULT_BRANCH_PREFIX, ForgeProvider};
use crate::repo_url::RepoUrl;

/// The commit author when neither the spec nor a policy names one.
pub const DEFAULT_AUTHOR: &str = "Git Change Operator <gco@localhost>";
/// The GitCommit commit message when the spec has none.
pub const DEFAULT_COMMIT_MESSAGE: &str = "Update from git-change-operator";

/// Defaults for one export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// GitCommit branch / PullRequest base branch.
    pub branch: String,
    pub write_mode: WriteMode,
    /// `spec.commit.author`.
    pub author: String,
    /// `spec.commit.message`: fixed for a GitCommit, `Changes for PR: <title>` for a PullRequest.
    pub message: String,
    /// PullRequest `spec.pullRequest.branchPrefix`.
    pub branch_prefix: String,
    /// PullRequest `spec.repository.provider`, where the host tells it.
    pub provider: Option<ForgeProvider>,
    /// `spec.resourceReferences[].namespace`: the export's own namespace.
    pub reference_namespace: String,
    /// The policy that supplied at least one default, for logs.
    pub from_policy: Option<String>,
}

/// Computes the defaults of `request` under the matching `policies` (sorted by name).
pub fn defaults(request: &ExportRequest<'_>, policies: &[&GitExportPolicy]) -> Defaults {
    let mut from_policy = None;
    let mut pick = |get: &dyn Fn(&PolicyDefaults) -> Option<String>| {
        policies.iter().find_map(|policy| {
            let value = get(policy.spec.defaults.as_ref()?)?;
            from_policy.get_or_insert_with(|| policy.name_any());
            Some(value)
        })
    };
    let branch = pick(&|d| d.branch.clone()).unwrap_or_else(|| DEFAULT_BRANCH.to_owned());
    let author = pick(&|d| d.author.clone()).unwrap_or_else(|| DEFAULT_AUTHOR.to_owned());
    let branch_prefix =
        pick(&|d| d.branch_prefix.clone()).unwrap_or_else(|| DEFAULT_BRANCH_PREFIX.to_owned());
    let write_mode = policies
        .iter()
        .find_map(|policy| policy.spec.defaults.as_ref()?.write_mode)
        .unwrap_or_default();
    let message = match (request.kind, request.pull_request) {
        (ExportKind::PullRequest, Some(pr)) => format!("Changes for PR: {}", pr.title),
        _ => DEFAULT_COMMIT_MESSAGE.to_owned(),
    };
    let provider = match request.kind {
        ExportKind::PullRequest => RepoUrl::parse(request.url)
            .ok()
            .and_then(|url| infer_provider(url.host())),
        ExportKind::GitCommit => None,
    };
    Defaults {
        branch,
        write_mode,
        author,
        message,
        branch_prefix,
        provider,
        reference_namespace: request.namespace.to_owned(),
        from_policy,
    }
}
