//! The typed spec inside an admitted object, read without copying the object.

use gco_api::{
    ExportSpec, GitCommitSpec, PullRequestSpec,
    rules::{ExportKind, ExportRequest},
};
use serde::Deserialize;
use serde_json::Value;

/// The spec of a GitCommit or PullRequest.
pub enum AdmittedSpec {
    GitCommit(GitCommitSpec),
    PullRequest(PullRequestSpec),
}

impl AdmittedSpec {
    /// Reads `object.spec` as the spec of `kind`.
    pub fn read(kind: ExportKind, object: &Value) -> Result<Self, String> {
        let spec = object.get("spec").ok_or("the object has no spec")?;
        let parsed = match kind {
            ExportKind::GitCommit => GitCommitSpec::deserialize(spec).map(AdmittedSpec::GitCommit),
            ExportKind::PullRequest => {
                PullRequestSpec::deserialize(spec).map(AdmittedSpec::PullRequest)
            }
        };
        parsed.map_err(|error| format!("spec cannot be read: {error}"))
    }

    /// The files and references, shared by both kinds.
    pub fn export(&self) -> &ExportSpec {
        match self {
            AdmittedSpec::GitCommit(spec) => &spec.export,
            AdmittedSpec::PullRequest(spec) => &spec.export,
        }
    }

    /// The view the rules evaluate, for the object named by `object.metadata.name` (absent
    /// when the create uses `generateName`: the controller checks what needs the name).
    pub fn request<'a>(&'a self, namespace: &'a str, object: &'a Value) -> ExportRequest<'a> {
        let request = match self {
            AdmittedSpec::GitCommit(spec) => ExportRequest::git_commit(namespace, spec),
            AdmittedSpec::PullRequest(spec) => ExportRequest::pull_request(namespace, spec),
        };
        request.named_if(object.pointer("/metadata/name").and_then(Value::as_str))
    }
}
