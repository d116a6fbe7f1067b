//! Rules on a PullRequest's `spec.repository.apiURL`, the address the forge token is sent to.
//!
//! A tenant who could name any API URL could have the operator send the namespace's forge
//! token to a host of their choosing (docs/security.md). So the API URL must be https (http
//! only where a policy allows that scheme), carry no userinfo, query or fragment, and live on
//! the repository's own host, unless a policy lists it in `allowedAPIURLs`.

use super::{ExportKind, ExportRequest, Rule, Violation, Violations, glob};
use crate::policy::{ExtraScheme, GitExportPolicy};
use crate::repo_url::{RepoUrl, Scheme, redact_url};

const FIELD: &str = "spec.repository.apiURL";

/// Checks `apiURL` when a PullRequest sets one.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    if request.kind != ExportKind::PullRequest {
        return;
    }
    let Some(api_url) = request.api_url.filter(|u| !u.is_empty()) else {
        return;
    };
    let mut refuse = |message: String, fix: &str| {
        out.push(Violation::new(FIELD, Rule::ApiUrl, message, fix));
    };
    let shown = redact_url(api_url);
    let api = match RepoUrl::parse(api_url) {
        Ok(api) => api,
        Err(reason) => {
            return refuse(
                format!("{shown:?} is not a URL: {reason}"),
                "write the forge's API address, e.g. `https://git.example.com/api/v1`, or leave it out for the provider's default",
            );
        }
    };
    if api.has_userinfo() || api_url.contains(['?', '#']) {
        refuse(
            format!("{shown} carries userinfo, a query or a fragment"),
            "write the API's base address alone; the token comes from the Secret named by `spec.auth.secretName`",
        );
    }
    let http_allowed = policies
        .iter()
        .any(|policy| policy.spec.allowed_schemes.contains(&ExtraScheme::Http));
    match api.scheme() {
        Scheme::Https => {}
        Scheme::Http if http_allowed => {}
        _ => refuse(
            format!("{shown} is not https: the forge token would travel in the clear"),
            "use an https API URL, or ask a cluster admin to allow `http` in a GitExportPolicy's `allowedSchemes`",
        ),
    }
    let same_host =
        RepoUrl::parse(request.url).is_ok_and(|repository| same_origin(&repository, &api));
    let listed = policies.iter().any(|policy| {
        policy
            .spec
            .allowed_api_urls
            .iter()
            .any(|pattern| glob::matches(pattern, api_url))
    });
    if !same_host && !listed {
        refuse(
            format!(
                "{shown} is not on the repository's host: the forge token would be sent to {:?}",
                api.host()
            ),
            "use the API of the repository's own forge, or ask a cluster admin to list this URL in a GitExportPolicy's `allowedAPIURLs`",
        );
    }
}

/// Whether the API lives where the repository does: the same host and, for a web repository
/// URL, the same scheme and port (another port of a host may be another service). An ssh
/// repository's API is on its host's web port, whatever the ssh port.
fn same_origin(repository: &RepoUrl, api: &RepoUrl) -> bool {
    let web_port = |url: &RepoUrl| {
        url.port().or(match url.scheme() {
            Scheme::Https => Some(443),
            Scheme::Http => Some(80),
            _ => None,
        })
    };
    repository.host().eq_ignore_ascii_case(api.host())
        && (!repository.is_http()
            || (repository.scheme() == api.scheme() && web_port(repository) == web_port(api)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        GitExportPolicySpec, PullRequestOptions, PullRequestRepository, PullRequestSpec,
        policy::ExtraScheme,
    };

    fn spec(url: &str, api_url: Option<&str>) -> PullRequestSpec {
        PullRequestSpec {
            repository: PullRequestRepository {
                url: url.into(),
                api_url: api_url.map(str::to_owned),
                ..Default::default()
            },
            auth: None,
            pull_request: PullRequestOptions::default(),
            commit: None,
            export: Default::default(),
        }
    }

    fn refusals(spec: &PullRequestSpec, policies: &[&GitExportPolicy]) -> Vec<String> {
        let mut out = Violations::default();
        check(
            &ExportRequest::pull_request("team", spec),
            policies,
            &mut out,
        );
        out.iter().map(ToString::to_string).collect()
    }

    fn policy(spec: GitExportPolicySpec) -> GitExportPolicy {
        GitExportPolicy::new("p", spec)
    }

    #[test]
    fn the_repositorys_own_host_over_https_is_fine() {
        let s = spec(
            "https://git.example.com/ops/repo.git",
            Some("https://git.example.com/api/v1"),
        );
        assert!(refusals(&s, &[]).is_empty());
        assert!(refusals(&spec("https://github.com/o/r", None), &[]).is_empty());
    }

    #[test]
    fn another_host_is_refused_unless_a_policy_lists_it() {
        let s = spec(
            "https://github.com/company/repo.git",
            Some("https://attacker.example/api/v3"),
        );
        let refused = refusals(&s, &[]);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].contains("spec.repository.apiURL")
                && refused[0].contains("api-url")
                && refused[0].contains("allowedAPIURLs"),
            "{refused:?}"
        );
        let admin = policy(GitExportPolicySpec {
            allowed_api_urls: vec!["https://attacker.example/api/*".into()],
            ..Default::default()
        });
        assert!(refusals(&s, &[&admin]).is_empty());
    }

    #[test]
    fn another_port_or_scheme_of_the_repositorys_host_is_another_origin() {
        for api in [
            "https://git.example.com:8443/api/v1",
            "http://git.example.com/api/v1",
        ] {
            let s = spec("https://git.example.com/ops/repo.git", Some(api));
            let http = policy(GitExportPolicySpec {
                allowed_schemes: vec![ExtraScheme::Http],
                ..Default::default()
            });
            assert!(!refusals(&s, &[&http]).is_empty(), "{api}");
        }
        let explicit = spec(
            "https://git.example.com:443/ops/repo.git",
            Some("https://git.example.com/api/v1"),
        );
        assert!(refusals(&explicit, &[]).is_empty());
        let ssh = spec(
            "ssh://git@git.example.com:2222/ops/repo.git",
            Some("https://git.example.com/api/v1"),
        );
        assert!(refusals(&ssh, &[]).is_empty());
    }

    #[test]
    fn plain_http_userinfo_query_and_fragment_are_refused() {
        for api in [
            "http://git.example.com/api/v1",
            "https://tok@git.example.com/api/v1",
            "https://git.example.com/api/v1?x=1",
            "https://git.example.com/api/v1#x",
            "ftp://git.example.com/api",
        ] {
            let s = spec("https://git.example.com/ops/repo.git", Some(api));
            let refused = refusals(&s, &[]);
            assert!(!refused.is_empty(), "{api}");
            assert!(refused.iter().all(|r| !r.contains("tok@")), "{refused:?}");
        }
        let http = policy(GitExportPolicySpec {
            allowed_schemes: vec![ExtraScheme::Http],
            ..Default::default()
        });
        let s = spec(
            "http://127.0.0.1:3000/admin/repo.git",
            Some("http://127.0.0.1:3000/api/v1"),
        );
        assert!(refusals(&s, &[&http]).is_empty());
    }
}
