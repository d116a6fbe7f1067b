//! Rules on `spec.repository`: URL form, scheme, credentials, the policies' repository and
//! branch allow-lists, branch names, and the forge provider of a PullRequest.

use kube::ResourceExt;

use super::{ExportKind, ExportRequest, Rule, Violation, Violations, glob};
use crate::policy::{ExtraScheme, GitExportPolicy};
use crate::pullrequest::ForgeProvider;
use crate::repo_url::{RepoUrl, Scheme, redact_url};

const URL_FIELD: &str = "spec.repository.url";

/// Checks the URL, the allow-lists and the branch.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    check_url(request, policies, out);
    check_branch_name(request, out);
    check_allow_lists(request, policies, out);
    check_provider(request, out);
    super::api_url::check(request, policies, out);
}

fn check_url(request: &ExportRequest<'_>, policies: &[&GitExportPolicy], out: &mut Violations) {
    let remote = match RepoUrl::parse(request.url) {
        Ok(remote) => remote,
        Err(reason) => {
            out.push(Violation::new(
                URL_FIELD,
                Rule::RepositoryUrl,
                reason.to_string(),
                "write an `https://host/path` or `ssh://git@host/path` URL",
            ));
            return;
        }
    };
    if remote.has_credentials() {
        out.push(Violation::new(
            URL_FIELD,
            Rule::RepositoryCredentials,
            format!(
                "the URL {remote} carries credentials, which would end up in logs, events and status"
            ),
            "remove the `user:password@` part and put the credentials in the Secret named by `spec.auth.secretName` (keys `username`/`password`, `bearerToken` or `token`)",
        ));
    }
    let extra = match remote.scheme() {
        Scheme::Https | Scheme::Ssh => return,
        Scheme::Http => Some(ExtraScheme::Http),
        Scheme::Git => Some(ExtraScheme::Git),
        Scheme::File => Some(ExtraScheme::File),
        Scheme::Other(_) => None,
    };
    let allowed = extra.is_some_and(|extra| {
        policies
            .iter()
            .any(|policy| policy.spec.allowed_schemes.contains(&extra))
    });
    if !allowed {
        let fix = match extra {
            Some(_) => format!(
                "use an `https://` or `ssh://` URL, or ask a cluster admin to add `{}` to `spec.allowedSchemes` of a GitExportPolicy that selects namespace {:?}",
                remote.scheme().as_str(),
                request.namespace
            ),
            None => "use an `https://` or `ssh://` URL".to_owned(),
        };
        out.push(Violation::new(
            URL_FIELD,
            Rule::RepositoryScheme,
            format!(
                "the scheme `{}` is not allowed: only `https` and `ssh` are allowed by default",
                remote.scheme().as_str()
            ),
            fix,
        ));
    }
}

fn check_allow_lists(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    let url = redact_url(request.url);
    for policy in policies {
        let name = policy.name_any();
        match allow_list(policy, request.url, request.branch) {
            AllowList::Allowed => {}
            AllowList::RepositoryRefused => {
                let patterns: Vec<&str> = policy
                    .spec
                    .repositories
                    .iter()
                    .map(|rule| rule.url.as_str())
                    .collect();
                out.push(Violation::new(
                    URL_FIELD,
                    Rule::RepositoryAllowed,
                    format!("repository {url} is not allowed by GitExportPolicy {name:?}"),
                    format!(
                        "use a repository matching one of {patterns:?}, or ask a cluster admin to add it to `spec.repositories` of GitExportPolicy {name:?}"
                    ),
                ));
            }
            AllowList::BranchRefused { index, patterns } => out.push(Violation::new(
                request.kind.branch_field(),
                Rule::BranchAllowed,
                format!(
                    "branch {:?} of repository {url} is not allowed by GitExportPolicy {name:?}",
                    short(request.branch)
                ),
                format!(
                    "use a branch matching one of {patterns:?}, or ask a cluster admin to add it to `spec.repositories[{index}].branches` of GitExportPolicy {name:?}"
                ),
            )),
        }
    }
}

/// What one policy's `repositories` allow-list says of a repository and branch.
pub(super) enum AllowList<'p> {
    /// The policy lists no repositories, or a rule matching the URL allows the branch (a
    /// rule without `branches` allows any).
    Allowed,
    /// No rule matches the URL.
    RepositoryRefused,
    /// Rules match the URL but none allows the branch: the index of the first, and the
    /// branch globs of all of them.
    BranchRefused {
        index: usize,
        patterns: Vec<&'p str>,
    },
}

/// Applies `policy`'s allow-list to `branch` of `url`.
pub(super) fn allow_list<'p>(
    policy: &'p GitExportPolicy,
    url: &str,
    branch: &str,
) -> AllowList<'p> {
    let rules = &policy.spec.repositories;
    if rules.is_empty() {
        return AllowList::Allowed;
    }
    let matching: Vec<_> = rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| glob::matches(&rule.url, url))
        .collect();
    let Some((index, _)) = matching.first() else {
        return AllowList::RepositoryRefused;
    };
    let allowed = matching.iter().any(|(_, rule)| {
        rule.branches.is_empty()
            || rule
                .branches
                .iter()
                .any(|pattern| glob::matches(pattern, branch))
    });
    if allowed {
        return AllowList::Allowed;
    }
    AllowList::BranchRefused {
        index: *index,
        patterns: matching
            .iter()
            .flat_map(|(_, rule)| rule.branches.iter().map(String::as_str))
            .collect(),
    }
}

/// The subset of `git check-ref-format` that a branch name can break. (The head branch of a
/// PullRequest is checked in rules/head_branch.rs.)
fn check_branch_name(request: &ExportRequest<'_>, out: &mut Violations) {
    if let Some(reason) = branch_name_problem(request.branch) {
        out.push(Violation::new(
            request.kind.branch_field(),
            Rule::BranchName,
            format!(
                "branch {:?} is not a valid Git branch name: {reason}",
                short(request.branch)
            ),
            "write a branch name such as `main` or `backups/production`",
        ));
    }
}

/// Why `name` is not a valid branch name, if it is not.
pub(super) fn branch_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name == "HEAD" {
        return Some("`HEAD` names the checked-out commit, not a branch");
    }
    if name.len() > 255 {
        return Some("it is longer than 255 bytes");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Some("it contains whitespace or control characters");
    }
    if name
        .chars()
        .any(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Some("it contains one of `~ ^ : ? * [ \\`");
    }
    if name.contains("..") || name.contains("@{") || name == "@" {
        return Some("it contains `..` or `@{`");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Some("it starts or ends with `/`, or has an empty component");
    }
    if name.ends_with('.') || name.starts_with('-') {
        return Some("it ends with `.` or starts with `-`");
    }
    if name
        .split('/')
        .any(|component| component.starts_with('.') || component.ends_with(".lock"))
    {
        return Some("a component starts with `.` or ends with `.lock`");
    }
    None
}

fn check_provider(request: &ExportRequest<'_>, out: &mut Violations) {
    if request.kind != ExportKind::PullRequest || request.provider.is_some() {
        return;
    }
    if let Ok(remote) = RepoUrl::parse(request.url)
        && infer_provider(remote.host()).is_none()
    {
        out.push(Violation::new(
            "spec.repository.provider",
            Rule::ForgeProvider,
            format!(
                "the forge of host {:?} cannot be inferred (only github.com and gitlab.com are)",
                remote.host()
            ),
            "set `spec.repository.provider` to `github`, `gitlab` or `gitea` (and `apiURL` for a self-hosted forge)",
        ));
    }
}

/// The forge of the well-known public hosts.
pub fn infer_provider(host: &str) -> Option<ForgeProvider> {
    match host {
        "github.com" | "www.github.com" => Some(ForgeProvider::Github),
        "gitlab.com" | "www.gitlab.com" => Some(ForgeProvider::Gitlab),
        _ => None,
    }
}

/// Keeps messages short when a hostile value is huge.
pub(super) fn short(text: &str) -> String {
    const KEEP: usize = 80;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
