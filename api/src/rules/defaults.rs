//! The values the mutating webhook fills in, and the controller falls back to, when a spec
//! leaves a field empty: from the first matching policy (by name) that sets one, else built in.
//! The CRD schema sets no default of its own for these fields, so that a policy's default is
//! not pre-empted before the webhook sees the object (docs/policy.md, Defaults).

use kube::ResourceExt;

use super::{ExportKind, ExportRequest, repository::infer_provider};
use crate::common::{CommitSpec, WriteMode};
use crate::gitcommit::{DEFAULT_BRANCH, GitCommitSpec};
use crate::policy::{GitExportPolicy, PolicyDefaults};
use crate::pullrequest::{DEFAULT_BRANCH_PREFIX, ForgeProvider, PullRequestSpec};
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

impl Defaults {
    /// Fills what a GitCommit spec leaves out (branch, write mode, author), as the mutating
    /// webhook does: what the controller runs when the object reached it without the webhook.
    pub fn fill_git_commit(&self, spec: &mut GitCommitSpec) {
        spec.repository
            .branch
            .get_or_insert_with(|| self.branch.clone());
        spec.export.write_mode.get_or_insert(self.write_mode);
        self.fill_author(&mut spec.commit);
    }

    /// Fills what a PullRequest spec leaves out (base branch, write mode, author, head-branch
    /// prefix), as the mutating webhook does.
    pub fn fill_pull_request(&self, spec: &mut PullRequestSpec) {
        spec.repository
            .base_branch
            .get_or_insert_with(|| self.branch.clone());
        spec.export.write_mode.get_or_insert(self.write_mode);
        spec.pull_request
            .branch_prefix
            .get_or_insert_with(|| self.branch_prefix.clone());
        self.fill_author(&mut spec.commit);
    }

    fn fill_author(&self, commit: &mut Option<CommitSpec>) {
        commit
            .get_or_insert_with(CommitSpec::default)
            .author
            .get_or_insert_with(|| self.author.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{base, commit, policy, pull_request};
    use super::*;
    use crate::policy::GitExportPolicySpec;

    fn team_policy() -> GitExportPolicy {
        policy(
            "team",
            GitExportPolicySpec {
                defaults: Some(PolicyDefaults {
                    branch: Some("backups".into()),
                    author: Some("Ops <ops@example.com>".into()),
                    write_mode: Some(WriteMode::Append),
                    branch_prefix: Some("bots".into()),
                }),
                ..base()
            },
        )
    }

    #[test]
    fn what_a_spec_leaves_out_is_filled_from_the_policy() {
        let team = team_policy();
        let mut spec = commit();
        spec.repository.branch = None;
        spec.commit = None;
        defaults(&ExportRequest::git_commit("ns", &spec), &[&team]).fill_git_commit(&mut spec);
        assert_eq!(spec.repository.branch(), "backups");
        assert_eq!(spec.export.write_mode, Some(WriteMode::Append));
        let author = spec.commit.as_ref().and_then(|c| c.author.as_deref());
        assert_eq!(author, Some("Ops <ops@example.com>"));

        let mut spec = pull_request("https://github.com/a/b.git");
        spec.repository.base_branch = None;
        spec.pull_request.branch_prefix = None;
        defaults(&ExportRequest::pull_request("ns", &spec), &[&team]).fill_pull_request(&mut spec);
        assert_eq!(spec.repository.base_branch(), "backups");
        assert_eq!(spec.pull_request.branch_prefix(), "bots");
        assert_eq!(spec.export.write_mode(), WriteMode::Append);
    }

    #[test]
    fn what_a_spec_says_is_kept_and_nothing_else_falls_back_to_built_in_defaults() {
        let team = team_policy();
        let mut spec = commit();
        spec.repository.branch = Some("mine".into());
        spec.export.write_mode = Some(WriteMode::Overwrite);
        let request = ExportRequest::git_commit("ns", &spec);
        let found = defaults(&request, &[&team]);
        found.fill_git_commit(&mut spec);
        assert_eq!(spec.repository.branch(), "mine");
        assert_eq!(spec.export.write_mode(), WriteMode::Overwrite);

        let mut spec = commit();
        spec.repository.branch = None;
        spec.commit = None;
        defaults(&ExportRequest::git_commit("ns", &spec), &[]).fill_git_commit(&mut spec);
        assert_eq!(spec.repository.branch(), DEFAULT_BRANCH);
        assert_eq!(spec.export.write_mode(), WriteMode::Overwrite);
        let author = spec.commit.as_ref().and_then(|c| c.author.as_deref());
        assert_eq!(author, Some(DEFAULT_AUTHOR));
    }
}
