//! One GitCommit or PullRequest, whichever it is, with the few facts every command reads:
//! the status they share, where they write, whether they are suspended. Pure.

use gco_api::{ExportKind, ExportSpec, ExportStatus, GitCommit, PullRequest, redact_url};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use serde::Serialize;

/// A GitCommit or a PullRequest, as read from the cluster.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Exported {
    GitCommit(Box<GitCommit>),
    PullRequest(Box<PullRequest>),
}

impl Exported {
    pub fn kind(&self) -> ExportKind {
        match self {
            Exported::GitCommit(_) => ExportKind::GitCommit,
            Exported::PullRequest(_) => ExportKind::PullRequest,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Exported::GitCommit(o) => o.name_any(),
            Exported::PullRequest(o) => o.name_any(),
        }
    }

    pub fn namespace(&self) -> String {
        match self {
            Exported::GitCommit(o) => o.namespace(),
            Exported::PullRequest(o) => o.namespace(),
        }
        .unwrap_or_default()
    }

    pub fn uid(&self) -> Option<String> {
        match self {
            Exported::GitCommit(o) => o.uid(),
            Exported::PullRequest(o) => o.uid(),
        }
    }

    pub fn generation(&self) -> Option<i64> {
        match self {
            Exported::GitCommit(o) => o.metadata.generation,
            Exported::PullRequest(o) => o.metadata.generation,
        }
    }

    pub fn export(&self) -> &ExportSpec {
        match self {
            Exported::GitCommit(o) => &o.spec.export,
            Exported::PullRequest(o) => &o.spec.export,
        }
    }

    pub fn status(&self) -> Option<&ExportStatus> {
        match self {
            Exported::GitCommit(o) => o.status.as_ref(),
            Exported::PullRequest(o) => o.status.as_ref().map(|s| &s.export),
        }
    }

    /// The repository URL, with any credential in it redacted.
    pub fn repository(&self) -> String {
        redact_url(match self {
            Exported::GitCommit(o) => &o.spec.repository.url,
            Exported::PullRequest(o) => &o.spec.repository.url,
        })
    }

    /// Where the result is: a GitCommit's branch, a PullRequest's URL once it has one (its
    /// base branch before).
    pub fn destination(&self) -> String {
        match self {
            Exported::GitCommit(o) => o.spec.repository.branch().to_owned(),
            Exported::PullRequest(o) => o
                .status
                .as_ref()
                .and_then(|s| s.pull_request_url.clone())
                .unwrap_or_else(|| format!("(into {})", o.spec.repository.base_branch())),
        }
    }

    /// A condition of the status, by type.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status()?.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether a condition is present and True.
    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }

    /// Whether the controller has decided the outcome for the current generation.
    pub fn observed(&self) -> bool {
        let observed = self.status().and_then(|s| s.observed_generation);
        observed.is_some() && observed >= self.generation()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A GitCommit from JSON, for tests of the pure views.
    pub(crate) fn gitcommit(status: Value) -> Exported {
        let object = json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "app", "namespace": "team", "generation": 2, "uid": "u1" },
            "spec": { "repository": { "url": "https://bot:secret@example.com/r.git", "branch": "main" } },
            "status": status,
        });
        Exported::GitCommit(Box::new(
            serde_json::from_value(object).expect("a GitCommit"),
        ))
    }

    #[test]
    fn the_repository_never_shows_a_credential() {
        let object = gitcommit(json!({}));
        assert!(
            !object.repository().contains("secret"),
            "{}",
            object.repository()
        );
        assert_eq!(object.destination(), "main");
    }

    #[test]
    fn a_pull_request_points_at_its_url_once_it_has_one() {
        let object = |status: Value| {
            Exported::PullRequest(Box::new(
                serde_json::from_value(json!({
                    "apiVersion": "gco.galos.one/v1", "kind": "PullRequest",
                    "metadata": { "name": "p", "namespace": "team" },
                    "spec": { "repository": { "url": "https://example.com/r.git", "baseBranch": "main" },
                              "pullRequest": { "title": "t" } },
                    "status": status,
                }))
                .expect("a PullRequest"),
            ))
        };
        assert_eq!(object(json!({})).destination(), "(into main)");
        assert_eq!(
            object(json!({ "pullRequestURL": "https://example.com/r/pull/3" })).destination(),
            "https://example.com/r/pull/3"
        );
    }

    #[test]
    fn observed_means_the_current_generation() {
        assert!(!gitcommit(json!({ "observedGeneration": 1 })).observed());
        assert!(gitcommit(json!({ "observedGeneration": 2 })).observed());
        assert!(!gitcommit(json!({})).observed());
    }
}
