//! The rule on signed commits: a policy's `repositories[].requireSignedCommits` makes every
//! commit to the repositories and branches its rule matches a signed one, so a spec for them
//! must name `spec.commit.signingKey`. (Whether the key can sign is only known once the
//! controller reads the Secret.)

use std::borrow::Cow;

use kube::ResourceExt;

use super::head_branch::head_branch;
use super::repository::short;
use super::{ExportRequest, Rule, Violation, Violations, glob};
use crate::policy::GitExportPolicy;
use crate::repo_url::redact_url;

pub(super) const SIGNING_FIELD: &str = "spec.commit.signingKey.secretName";

/// Refuses an unsigned spec for a repository and branch that a policy requires signed.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    if request.commit.and_then(|c| c.signing_secret()).is_some() {
        return;
    }
    let branches = written_branches(request);
    for policy in policies {
        let Some((index, branch)) = requiring_rule(policy, request.url, &branches) else {
            continue;
        };
        let name = policy.name_any();
        out.push(Violation::new(
            SIGNING_FIELD,
            Rule::SignedCommits,
            format!(
                "commits to branch {:?} of repository {} must be signed: `spec.repositories[{index}].requireSignedCommits` of GitExportPolicy {name:?} requires it",
                short(branch),
                redact_url(request.url)
            ),
            "set `spec.commit.signingKey.secretName` to a Secret of this namespace that holds an OpenPGP private key (`git.asc`, and `passphrase` if it is encrypted) or an SSH private key (`identity`, and `password` if it is encrypted)",
        ));
    }
}

/// The branches the operator's commits land on or are merged into: a GitCommit's branch; a
/// PullRequest's base branch and, when its name is known, its head branch.
fn written_branches<'a>(request: &ExportRequest<'a>) -> Vec<Cow<'a, str>> {
    let mut branches = vec![Cow::Borrowed(request.branch)];
    if let Some(options) = request.pull_request {
        let explicit = options.head_branch.as_deref().filter(|h| !h.is_empty());
        match (explicit, request.name) {
            (Some(head), _) => branches.push(head.into()),
            (None, Some(name)) => {
                branches.push(head_branch(options, request.namespace, name).into())
            }
            // A derived head branch with no name yet: the base branch decides at admission,
            // and the controller, which knows the name, checks the head branch too.
            (None, None) => {}
        }
    }
    branches
}

/// The first rule of `policy` requiring signed commits whose URL glob matches `url` and whose
/// `branches` (none: every branch) match one of `branches`, with the branch it matched.
fn requiring_rule<'b>(
    policy: &GitExportPolicy,
    url: &str,
    branches: &'b [Cow<'_, str>],
) -> Option<(usize, &'b str)> {
    policy
        .spec
        .repositories
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule.require_signed_commits && glob::matches(&rule.url, url))
        .find_map(|(index, rule)| {
            branches
                .iter()
                .find(|branch| {
                    rule.branches.is_empty()
                        || rule.branches.iter().any(|p| glob::matches(p, branch))
                })
                .map(|branch| (index, branch.as_ref()))
        })
}
