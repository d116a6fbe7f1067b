//! The head branch of a PullRequest: a name Git accepts, not the base, within the branch globs.

use super::tests::{base, policy, pull_request};
use super::*;
use crate::policy::{GitExportPolicySpec, RepositoryRule};
use crate::pullrequest::PullRequestSpec;

fn rules_of(
    spec: &PullRequestSpec,
    name: Option<&str>,
    policies: &[&GitExportPolicy],
) -> Vec<(String, Rule)> {
    let mut request = ExportRequest::pull_request("team", spec);
    if let Some(name) = name {
        request = request.named(name);
    }
    match evaluate(&request, policies) {
        Ok(_) => Vec::new(),
        Err(violations) => violations
            .iter()
            .map(|v| (v.field.clone(), v.rule))
            .collect(),
    }
}

fn only_main_and(branches: &[&str]) -> GitExportPolicy {
    policy(
        "company",
        GitExportPolicySpec {
            repositories: vec![RepositoryRule {
                url: "https://github.com/company/*".into(),
                branches: branches.iter().map(|b| (*b).to_owned()).collect(),
                ..RepositoryRule::default()
            }],
            ..base()
        },
    )
}

const HEAD: &str = "spec.pullRequest.headBranch";
const PREFIX: &str = "spec.pullRequest.branchPrefix";

#[test]
fn the_head_branch_is_derived_like_the_controller_does() {
    let mut spec = pull_request("https://github.com/company/gitops.git");
    assert_eq!(
        head_branch(&spec.pull_request, "team", "sync"),
        "gco/team-sync"
    );
    spec.pull_request.branch_prefix = Some("bots/".into());
    assert_eq!(head_branch(&spec.pull_request, "t", "s"), "bots/t-s");
    spec.pull_request.head_branch = Some("mine".into());
    assert_eq!(head_branch(&spec.pull_request, "t", "s"), "mine");
    spec.pull_request.head_branch = Some(String::new());
    assert_eq!(head_branch(&spec.pull_request, "t", "s"), "bots/t-s");
}

#[test]
fn an_explicit_head_branch_must_match_the_branch_globs() {
    let only_main = only_main_and(&[]);
    let restricted = only_main_and(&["main"]);
    let mut spec = pull_request("https://github.com/company/gitops.git");
    spec.pull_request.head_branch = Some("release".into());
    assert_eq!(rules_of(&spec, Some("sync"), &[&only_main]), []);
    let error = evaluate(&ExportRequest::pull_request("team", &spec), &[&restricted])
        .expect_err("release is not allowed");
    assert_eq!(error.0.len(), 1, "{error}");
    assert_eq!(
        (error.0[0].field.as_str(), error.0[0].rule),
        (HEAD, Rule::BranchAllowed)
    );
    assert!(
        error.0[0].fix.contains("spec.repositories[0].branches"),
        "{error}"
    );
    assert!(error.0[0].fix.contains("\"company\""), "{error}");
    let allowed = only_main_and(&["main", "release"]);
    assert_eq!(rules_of(&spec, None, &[&allowed]), []);
}

#[test]
fn the_derived_head_branch_must_match_the_branch_globs_once_the_name_is_known() {
    let restricted = only_main_and(&["main"]);
    let spec = pull_request("https://github.com/company/gitops.git");
    assert_eq!(
        rules_of(&spec, Some("sync"), &[&restricted]),
        [(PREFIX.to_owned(), Rule::BranchAllowed)]
    );
    // Without the name (generateName at admission) only the prefix can be judged; the
    // controller, which knows the name, refuses it before the first push.
    assert_eq!(rules_of(&spec, None, &[&restricted]), []);
    let with_prefix = only_main_and(&["main", "gco/*"]);
    assert_eq!(rules_of(&spec, Some("sync"), &[&with_prefix]), []);
    let other_team = only_main_and(&["main", "gco/other-*"]);
    assert_eq!(
        rules_of(&spec, Some("sync"), &[&other_team]),
        [(PREFIX.to_owned(), Rule::BranchAllowed)]
    );
}

#[test]
fn the_head_branch_is_not_the_base_branch() {
    let mut spec = pull_request("https://github.com/company/gitops.git");
    spec.pull_request.head_branch = Some("main".into());
    assert_eq!(
        rules_of(&spec, None, &[]),
        [(HEAD.to_owned(), Rule::HeadBranch)]
    );
    spec.repository.base_branch = Some("gco/team-sync".into());
    spec.pull_request.head_branch = None;
    assert_eq!(
        rules_of(&spec, Some("sync"), &[]),
        [(PREFIX.to_owned(), Rule::HeadBranch)]
    );
    assert_eq!(rules_of(&spec, Some("other"), &[]), []);
}

#[test]
fn head_branch_names_follow_git() {
    let mut spec = pull_request("https://github.com/company/gitops.git");
    for bad in [
        "HEAD",
        "a..b",
        "a@{1}",
        "-x",
        "x.lock",
        "a/b.lock/c",
        "a b",
        "a~1",
        "a^",
        "a:b",
        "a?",
        "a*",
        "a[b",
        "a\\b",
        "a/",
        "a.",
        "/a",
        "a//b",
        ".a",
        "a/.b",
        "@",
        "a\u{7f}",
        "a\tb",
    ] {
        spec.pull_request.head_branch = Some(bad.into());
        assert_eq!(
            rules_of(&spec, Some("sync"), &[]),
            [(HEAD.to_owned(), Rule::BranchName)],
            "{bad:?}"
        );
    }
    spec.pull_request.head_branch = Some("gco/sync".into());
    assert_eq!(rules_of(&spec, Some("sync"), &[]), []);
}

#[test]
fn a_prefix_that_makes_bad_branches_is_named() {
    let mut spec = pull_request("https://github.com/company/gitops.git");
    for bad in ["a..b", "-x", "x~", "a b"] {
        spec.pull_request.branch_prefix = Some(bad.into());
        for name in [None, Some("sync")] {
            assert_eq!(
                rules_of(&spec, name, &[]),
                [(PREFIX.to_owned(), Rule::BranchName)],
                "{bad:?} {name:?}"
            );
        }
    }
    // A name Kubernetes accepts can still end the branch in `.lock`.
    spec.pull_request.branch_prefix = Some("gco".into());
    assert_eq!(
        rules_of(&spec, Some("backup.lock"), &[]),
        [(PREFIX.to_owned(), Rule::BranchName)]
    );
}

#[test]
fn head_is_never_a_branch_name() {
    let mut spec = super::tests::commit();
    spec.repository.branch = Some("HEAD".into());
    assert_eq!(
        super::tests::broken(super::tests::eval(&spec, &[])),
        [("spec.repository.branch".to_owned(), Rule::BranchName)]
    );
}
