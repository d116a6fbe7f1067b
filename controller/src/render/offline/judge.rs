//! The rules `gco-controller render` applies: the controller's own, offline. The spec gets the
//! defaults the controller would fill in, then the built-in rules and the given policies judge
//! it with [`gco_api::rules::evaluate`], as the webhook and the controller do; the rendered
//! paths are held to the policies' prefixes as the controller holds them at the run's instant
//! (docs/architecture.md, "The policy is enforced twice").
//!
//! Offline there is no namespace to read labels from: every policy given with `--policy`
//! applies, whatever its `namespaceSelector`. The requester's `get` access to the referenced
//! objects needs a cluster and is not checked.

use std::path::Path;

use gco_api::{
    ExportSpec, GitCommitSpec, GitExportPolicy, PullRequestSpec,
    rules::{self, ExportRequest, RenderedPath, Violations},
};
use serde_json::Value;

use super::{PreviewError, parse_documents};
use crate::render::{Placement, PlannedWrite};

/// A GitCommit or PullRequest spec.
#[derive(Clone, Debug)]
pub(super) enum Spec {
    GitCommit(GitCommitSpec),
    PullRequest(PullRequestSpec),
}

impl Spec {
    /// Reads the spec of a manifest of `kind`; the error says what is wrong.
    pub fn parse(kind: &str, spec: Value) -> Result<Self, String> {
        match kind {
            "GitCommit" => serde_json::from_value(spec)
                .map(Spec::GitCommit)
                .map_err(|e| e.to_string()),
            "PullRequest" => serde_json::from_value(spec)
                .map(Spec::PullRequest)
                .map_err(|e| e.to_string()),
            other => Err(format!("its kind is {other:?}")),
        }
    }

    /// The view the rules judge.
    pub fn request<'a>(&'a self, namespace: &'a str, name: Option<&'a str>) -> ExportRequest<'a> {
        let request = match self {
            Spec::GitCommit(spec) => ExportRequest::git_commit(namespace, spec),
            Spec::PullRequest(spec) => ExportRequest::pull_request(namespace, spec),
        };
        request.named_if(name)
    }

    pub fn export(&self) -> &ExportSpec {
        match self {
            Spec::GitCommit(spec) => &spec.export,
            Spec::PullRequest(spec) => &spec.export,
        }
    }

    /// `spec.repository.url`.
    pub fn url(&self) -> &str {
        match self {
            Spec::GitCommit(spec) => &spec.repository.url,
            Spec::PullRequest(spec) => &spec.repository.url,
        }
    }

    /// The branch a diff is made against: a GitCommit's branch, a PullRequest's base branch.
    pub fn branch(&self) -> &str {
        match self {
            Spec::GitCommit(spec) => spec.repository.branch(),
            Spec::PullRequest(spec) => spec.repository.base_branch(),
        }
    }

    /// Fills what the spec leaves out from `policies`, else built in, as the controller does.
    pub fn fill_defaults(
        &mut self,
        namespace: &str,
        name: Option<&str>,
        policies: &[&GitExportPolicy],
    ) {
        let defaults = rules::defaults(&self.request(namespace, name), policies);
        match self {
            Spec::GitCommit(spec) => defaults.fill_git_commit(spec),
            Spec::PullRequest(spec) => defaults.fill_pull_request(spec),
        }
    }
}

/// Every GitExportPolicy in `paths`, each checked as the webhook checks a policy when it is
/// applied; anything else in those files is an error.
pub fn load_policies(paths: &[impl AsRef<Path>]) -> Result<Vec<GitExportPolicy>, PreviewError> {
    let mut policies = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let error = |reason: String| PreviewError::Read {
            path: path.display().to_string(),
            reason,
        };
        for document in parse_documents(path)? {
            let kind = document.get("kind").and_then(Value::as_str);
            if kind != Some("GitExportPolicy") {
                return Err(error(format!(
                    "a document of kind {kind:?} is not a GitExportPolicy"
                )));
            }
            let policy = GitExportPolicy::deserialize_value(&document).map_err(error)?;
            rules::validate_policy(&policy.spec).map_err(|v| error(v.to_string()))?;
            policies.push(policy);
        }
    }
    policies.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(policies)
}

/// The verdict of the rules on the spec, before anything is rendered.
pub(super) fn judge(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
) -> Result<(), Violations> {
    rules::evaluate(request, policies).map(|_| ())
}

/// The rules on what a run renders, one function for the controller and `render`: every path
/// within the policies' prefixes, and no more files than `limits.maxFiles`.
pub(crate) fn judge_rendered(
    writes: &[PlannedWrite],
    fields: &[String],
    policies: &[&GitExportPolicy],
) -> Result<(), Violations> {
    let rendered = writes
        .iter()
        .zip(fields)
        .map(|(write, field)| RenderedPath {
            field,
            path: write.path.as_str(),
        });
    rules::check_rendered_paths(policies, rendered)?;
    let files = writes
        .iter()
        .filter(|w| !matches!(w.mode, Placement::Remove { .. }))
        .count();
    rules::check_rendered_count(policies, files)
}
