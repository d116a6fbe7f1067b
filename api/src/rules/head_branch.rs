//! Rules on a PullRequest's head branch, the branch the operator pushes to: a name Git
//! accepts, not the base branch, and within the policies' branch allow-lists like every other
//! branch the operator writes (docs/policy.md, `repositories`).

use kube::ResourceExt;

use super::repository::{AllowList, allow_list, branch_name_problem, short};
use super::{ExportRequest, Rule, Violation, Violations};
use crate::policy::GitExportPolicy;
use crate::pullrequest::PullRequestOptions;
use crate::repo_url::redact_url;

const HEAD_FIELD: &str = "spec.pullRequest.headBranch";
const PREFIX_FIELD: &str = "spec.pullRequest.branchPrefix";

/// The head branch of a PullRequest named `name` in `namespace`: `headBranch` when set, else
/// `<branchPrefix>/<namespace>-<name>`.
pub fn head_branch(options: &PullRequestOptions, namespace: &str, name: &str) -> String {
    match options.head_branch.as_deref() {
        Some(head) if !head.is_empty() => head.to_owned(),
        _ => format!(
            "{}/{namespace}-{name}",
            options.branch_prefix().trim_end_matches('/')
        ),
    }
}

/// Where the head branch comes from, for the field a violation names and the fix it offers.
struct Head {
    branch: String,
    field: &'static str,
    fix: &'static str,
}

/// Checks the head branch of a PullRequest; does nothing for a GitCommit.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    let Some(options) = request.pull_request else {
        return;
    };
    let explicit = options.head_branch.as_deref().filter(|h| !h.is_empty());
    let head = match (explicit, request.name) {
        (Some(head), _) => Head {
            branch: head.to_owned(),
            field: HEAD_FIELD,
            fix: "write a branch name such as `gco/sync`, or leave `headBranch` out to use `branchPrefix`",
        },
        (None, Some(name)) => Head {
            branch: head_branch(options, request.namespace, name),
            field: PREFIX_FIELD,
            fix: "write a prefix such as `gco` or `bots/exports`, or set `spec.pullRequest.headBranch`",
        },
        (None, None) => {
            // The name is not known yet (`generateName` at admission): the prefix alone can
            // still be wrong; the rest is checked by the controller, which knows the name.
            let stand_in = head_branch(options, request.namespace, "name");
            if let Some(reason) = branch_name_problem(&stand_in) {
                out.push(Violation::new(
                    PREFIX_FIELD,
                    Rule::BranchName,
                    format!(
                        "prefix {:?} does not make a valid head branch `<branchPrefix>/<namespace>-<name>`: {reason}",
                        short(options.branch_prefix())
                    ),
                    "write a prefix such as `gco` or `bots/exports`, or set `spec.pullRequest.headBranch`",
                ));
            }
            return;
        }
    };
    if let Some(reason) = branch_name_problem(&head.branch) {
        out.push(Violation::new(
            head.field,
            Rule::BranchName,
            format!(
                "head branch {:?} is not a valid Git branch name: {reason}",
                short(&head.branch)
            ),
            head.fix,
        ));
        return;
    }
    if head.branch == request.branch {
        out.push(Violation::new(
            head.field,
            Rule::HeadBranch,
            format!(
                "head branch {:?} is the base branch: a pull request proposes a branch of its own, and the operator would push to the base branch directly",
                short(&head.branch)
            ),
            "set `spec.pullRequest.headBranch` to another branch, or leave it out to use `<branchPrefix>/<namespace>-<name>`",
        ));
    }
    check_allow_lists(request, policies, &head, out);
}

/// The head branch is pushed to like any branch, so the branch globs apply to it too.
fn check_allow_lists(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    head: &Head,
    out: &mut Violations,
) {
    for policy in policies {
        let AllowList::BranchRefused { index, patterns } =
            allow_list(policy, request.url, &head.branch)
        else {
            continue;
        };
        let name = policy.name_any();
        let what = if head.field == HEAD_FIELD {
            "`spec.pullRequest.headBranch`"
        } else {
            "`spec.pullRequest.branchPrefix` (the head branch is `<branchPrefix>/<namespace>-<name>`) or set `spec.pullRequest.headBranch`"
        };
        out.push(Violation::new(
            head.field,
            Rule::BranchAllowed,
            format!(
                "head branch {:?} of repository {} is not allowed by GitExportPolicy {name:?}",
                short(&head.branch),
                redact_url(request.url)
            ),
            format!(
                "change {what} so the head branch matches one of {patterns:?}, or ask a cluster admin to add a glob for it (e.g. `gco/*`) to `spec.repositories[{index}].branches` of GitExportPolicy {name:?}"
            ),
        ));
    }
}
