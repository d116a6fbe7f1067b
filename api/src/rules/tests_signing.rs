//! Signed commits: a policy's `requireSignedCommits` refuses an unsigned spec for the
//! repositories and branches its rule matches, and the signing key Secret is an access check.

use super::tests::{base, broken, commit, eval, policy, pull_request};
use super::*;
use crate::common::SigningKeyRef;
use crate::policy::{GitExportPolicySpec, RepositoryRule};

const FIELD: &str = "spec.commit.signingKey.secretName";

fn requiring(url: &str, branches: &[&str]) -> GitExportPolicy {
    policy(
        "signed",
        GitExportPolicySpec {
            repositories: vec![
                RepositoryRule {
                    url: "https://github.com/other/*".into(),
                    ..RepositoryRule::default()
                },
                RepositoryRule {
                    url: url.into(),
                    branches: branches.iter().map(|b| (*b).to_owned()).collect(),
                    require_signed_commits: true,
                },
            ],
            ..base()
        },
    )
}

fn signed_with(secret: &str) -> Option<SigningKeyRef> {
    Some(SigningKeyRef {
        secret_name: secret.into(),
    })
}

#[test]
fn an_unsigned_spec_is_refused_where_a_policy_requires_signed_commits() {
    let required = requiring("https://github.com/company/*", &[]);
    let mut spec = commit();
    let error = eval(&spec, &[&required]).expect_err("unsigned");
    assert_eq!(
        broken(Err(error.clone())),
        [(FIELD.to_owned(), Rule::SignedCommits)]
    );
    let violation = &error.0[0];
    assert!(
        violation
            .message
            .contains("`spec.repositories[1].requireSignedCommits` of GitExportPolicy \"signed\""),
        "{error}"
    );
    assert!(violation.fix.contains("git.asc"), "{error}");
    assert!(violation.fix.contains("identity"), "{error}");
    assert!(
        error.to_string().contains("(rule signed-commits)"),
        "{error}"
    );

    if let Some(commit) = spec.commit.as_mut() {
        commit.signing_key = signed_with("signing-key");
    }
    assert_eq!(broken(eval(&spec, &[&required])), []);
    // An empty name is no key.
    if let Some(commit) = spec.commit.as_mut() {
        commit.signing_key = signed_with("");
    }
    assert_eq!(
        broken(eval(&spec, &[&required])),
        [(FIELD.to_owned(), Rule::SignedCommits)]
    );
}

#[test]
fn only_the_matching_repositories_and_branches_require_signing() {
    let spec = commit();
    // Another repository, another branch, or a rule that does not require it: no refusal.
    for policy in [
        requiring("https://gitlab.com/company/*", &[]),
        requiring("https://github.com/company/*", &["release/*"]),
        policy(
            "plain",
            GitExportPolicySpec {
                repositories: vec![RepositoryRule {
                    url: "https://github.com/company/*".into(),
                    ..RepositoryRule::default()
                }],
                ..base()
            },
        ),
    ] {
        let verdict = broken(eval(&spec, &[&policy]));
        assert!(
            !verdict.iter().any(|(_, rule)| *rule == Rule::SignedCommits),
            "{verdict:?}"
        );
    }
    let on_main = requiring("https://github.com/company/*", &["main", "release/*"]);
    assert_eq!(
        broken(eval(&spec, &[&on_main])),
        [(FIELD.to_owned(), Rule::SignedCommits)]
    );
}

#[test]
fn a_pull_request_is_signed_when_its_base_or_its_head_branch_requires_it() {
    let base_required = requiring("https://github.com/company/*", &["main"]);
    // `main` is allowed unsigned by one rule; the head branches are required signed by another.
    let mut head_required = requiring("https://github.com/company/*", &["gco/*"]);
    head_required.spec.repositories[0] = RepositoryRule {
        url: "https://github.com/company/*".into(),
        branches: vec!["main".into()],
        ..RepositoryRule::default()
    };
    let spec = pull_request("https://github.com/company/gitops.git");
    let rules = |policy: &GitExportPolicy, name: Option<&str>| {
        let request = ExportRequest::pull_request("team", &spec).named_if(name);
        broken(evaluate(&request, &[policy]))
    };
    let refused = [(FIELD.to_owned(), Rule::SignedCommits)];
    assert_eq!(rules(&base_required, None), refused);
    // The derived head branch `gco/team-sync` is known once the name is.
    assert_eq!(rules(&head_required, Some("sync")), refused);
    assert_eq!(rules(&head_required, None), []);
}

#[test]
fn the_requester_must_be_allowed_to_read_the_signing_key() {
    let mut spec = commit();
    if let Some(commit) = spec.commit.as_mut() {
        commit.signing_key = signed_with("signing-key");
    }
    let checks = eval(&spec, &[]).expect("allowed").access_checks;
    let check = checks
        .iter()
        .find(|c| c.field == FIELD)
        .expect("an access check on the signing key Secret");
    assert_eq!(
        (
            check.kind.as_str(),
            check.namespace.as_str(),
            check.name.as_str(),
            check.verb
        ),
        ("Secret", "team", "signing-key", "get")
    );
}
