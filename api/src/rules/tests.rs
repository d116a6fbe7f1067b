//! One test per rule, allowed and denied.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::*;
use crate::common::{CommitSpec, ExportSpec, FileSpec, OutputSpec, ResourceReference, Strategy};
use crate::gitcommit::{GitCommitSpec, GitRepository};
use crate::policy::{
    ExtraScheme, GitExportPolicySpec, GroupKind, Limits, PathRules, PolicyDefaults, RepositoryRule,
    SecretRules,
};
use crate::pullrequest::{
    ForgeProvider, PullRequestOptions, PullRequestRepository, PullRequestSpec,
};

/// A GitCommit spec builder: a valid export that tests then break one way.
pub(super) fn commit() -> GitCommitSpec {
    GitCommitSpec {
        repository: GitRepository {
            url: "https://github.com/company/repo.git".into(),
            branch: Some("main".into()),
        },
        auth: None,
        commit: Some(CommitSpec {
            author: None,
            message: Some("Sync - $(date)".into()),
            ..CommitSpec::default()
        }),
        export: ExportSpec::default(),
        ttl_seconds_after_finished: None,
        prune: false,
    }
}

pub(super) fn reference(
    kind: &str,
    strategy: Strategy,
    field: Option<&str>,
    path: &str,
) -> ResourceReference {
    ResourceReference {
        api_version: "v1".into(),
        kind: kind.into(),
        name: Some("obj".into()),
        strategy,
        field: field.map(str::to_owned),
        output: OutputSpec {
            path: path.into(),
            encryption: None,
        },
        ..Default::default()
    }
}

pub(super) fn file(path: &str) -> FileSpec {
    FileSpec {
        path: path.into(),
        content: "x".into(),
        write_mode: None,
        encryption: None,
    }
}

pub(super) fn policy(name: &str, spec: GitExportPolicySpec) -> GitExportPolicy {
    GitExportPolicy::new(name, spec)
}

pub(super) fn base() -> GitExportPolicySpec {
    GitExportPolicySpec {
        cross_namespace_references: true,
        require_requester_access: true,
        ..Default::default()
    }
}

pub(super) fn eval(
    spec: &GitCommitSpec,
    policies: &[&GitExportPolicy],
) -> Result<Requirements, Violations> {
    evaluate(&ExportRequest::git_commit("team", spec), policies)
}

/// The rules broken, for compact asserts.
pub(super) fn broken(result: Result<Requirements, Violations>) -> Vec<(String, Rule)> {
    match result {
        Ok(_) => Vec::new(),
        Err(violations) => violations
            .iter()
            .map(|v| (v.field.clone(), v.rule))
            .collect(),
    }
}

#[test]
fn a_plain_export_is_allowed_and_needs_access_checks() {
    let mut spec = commit();
    spec.export
        .resource_references
        .push(reference("ConfigMap", Strategy::Dump, None, "a/"));
    let requirements = eval(&spec, &[]).expect("allowed");
    assert!(requirements.require_requester_access);
    assert_eq!(requirements.access_checks.len(), 1);
    assert_eq!(requirements.access_checks[0].namespace, "team");
    assert_eq!(requirements.access_checks[0].kind, "ConfigMap");
}

#[test]
fn secrets_are_never_dumped_or_split_into_fields() {
    for strategy in [Strategy::Dump, Strategy::Fields] {
        let mut spec = commit();
        spec.export
            .resource_references
            .push(reference("Secret", strategy, None, "s/"));
        assert_eq!(
            broken(eval(&spec, &[])),
            [(
                "spec.resourceReferences[0].strategy".to_owned(),
                Rule::SecretStrategy
            )]
        );
    }
}

#[test]
fn a_whole_secret_is_dumped_only_sealed_to_a_policys_recipients() {
    let sealing = policy(
        "sealing",
        GitExportPolicySpec {
            secrets: Some(crate::policy::SecretRules {
                allowed_fields: vec![],
                encryption: Some(crate::policy::SecretEncryption {
                    age_recipients: vec![
                        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
                    ],
                }),
            }),
            ..base()
        },
    );
    let mut spec = commit();
    spec.export
        .resource_references
        .push(reference("Secret", Strategy::Dump, None, "s/"));
    assert!(eval(&spec, &[&sealing]).is_ok(), "sealed: allowed");
    let refused = eval(&spec, &[]).expect_err("not sealed");
    assert!(
        refused
            .to_string()
            .contains("spec.secrets.encryption.ageRecipients"),
        "the fix names the policy field: {refused}"
    );
    // An encrypted file is rewritten whole: never appended to.
    spec.export.resource_references[0].write_mode = Some(crate::WriteMode::Append);
    assert_eq!(
        broken(eval(&spec, &[&sealing])),
        [(
            "spec.resourceReferences[0].writeMode".to_owned(),
            Rule::SecretStrategy
        )]
    );
    // `fields` would write every value in the clear: still refused.
    spec.export.resource_references[0] = reference("Secret", Strategy::Fields, None, "s/");
    assert_eq!(
        broken(eval(&spec, &[&sealing])),
        [(
            "spec.resourceReferences[0].strategy".to_owned(),
            Rule::SecretStrategy
        )]
    );
}

#[test]
fn a_policy_with_a_malformed_recipient_is_refused() {
    let spec = GitExportPolicySpec {
        secrets: Some(crate::policy::SecretRules {
            allowed_fields: vec![],
            encryption: Some(crate::policy::SecretEncryption {
                age_recipients: vec!["ssh-ed25519 AAAA".into()],
            }),
        }),
        ..base()
    };
    let refused = validate_policy(&spec).expect_err("refused");
    assert_eq!(
        refused.0[0].field,
        "spec.secrets.encryption.ageRecipients[0]"
    );
}

#[test]
fn secret_single_field_only_for_allow_listed_keys() {
    let mut spec = commit();
    spec.export.resource_references.push(reference(
        "Secret",
        Strategy::SingleField,
        Some("tls.crt"),
        "tls.crt",
    ));
    assert!(eval(&spec, &[]).is_ok());
    spec.export.resource_references[0].field = Some("tls.key".into());
    assert_eq!(
        broken(eval(&spec, &[])),
        [(
            "spec.resourceReferences[0].field".to_owned(),
            Rule::SecretField
        )]
    );
}

#[test]
fn alertmanager_yml_is_refused_until_a_policy_allows_it() {
    let mut spec = commit();
    spec.export.resource_references.push(reference(
        "Secret",
        Strategy::SingleField,
        Some("alertmanager.yml"),
        "alertmanager/config.yml",
    ));
    let error = eval(&spec, &[]).expect_err("refused by default");
    assert!(
        error.to_string().contains("spec.secrets.allowedFields"),
        "{error}"
    );
    let allow = policy(
        "monitoring",
        GitExportPolicySpec {
            secrets: Some(SecretRules {
                allowed_fields: vec!["alertmanager.yml".into()],
                encryption: None,
            }),
            ..base()
        },
    );
    assert!(eval(&spec, &[&allow]).is_ok());
}

#[test]
fn unsafe_paths_are_refused_with_the_field_path() {
    for path in [
        "../x",
        "/etc/passwd",
        ".git/config",
        "a/.GIT/x",
        "a/.git./x",
        "git~1/x",
        "a/.g\u{200c}it/x",
        ".gitmodules",
        "a\0b",
        &"a".repeat(5000),
    ] {
        let mut spec = commit();
        spec.export.files.push(file("ok.txt"));
        spec.export
            .resource_references
            .push(reference("ConfigMap", Strategy::Dump, None, path));
        assert_eq!(
            broken(eval(&spec, &[])),
            [(
                "spec.resourceReferences[0].output.path".to_owned(),
                Rule::PathSafety
            )],
            "{path:?}"
        );
    }
}

#[test]
fn trailing_slash_means_a_folder_for_dump_and_fields() {
    let mut spec = commit();
    spec.export
        .resource_references
        .push(reference("ConfigMap", Strategy::Fields, None, "a/b/"));
    spec.export.resource_references.push(reference(
        "ConfigMap",
        Strategy::Dump,
        None,
        "a/$(date +%Y)/",
    ));
    assert!(eval(&spec, &[]).is_ok());
    assert_eq!(written_path("a/", Strategy::Dump, "cm"), "a/cm.yaml");
    assert_eq!(written_path("a/", Strategy::Fields, "cm"), "a");
}

#[test]
fn only_date_placeholders_exist() {
    let mut spec = commit();
    spec.commit = Some(CommitSpec {
        author: None,
        message: Some("$(rm -rf /)".into()),
        ..CommitSpec::default()
    });
    spec.export.files.push(file("x-`id`.txt"));
    assert_eq!(
        broken(eval(&spec, &[])),
        [
            ("spec.commit.message".to_owned(), Rule::Placeholder),
            ("spec.files[0].path".to_owned(), Rule::Placeholder)
        ]
    );
}

#[test]
fn urls_without_credentials_over_https_or_ssh() {
    for url in [
        "https://github.com/a/b",
        "ssh://git@github.com/a/b",
        "git@github.com:a/b.git",
    ] {
        let mut spec = commit();
        spec.repository.url = url.into();
        assert!(eval(&spec, &[]).is_ok(), "{url}");
    }
    let mut spec = commit();
    spec.repository.url = "https://user:ghp_secret@github.com/a/b".into();
    let error = eval(&spec, &[]).expect_err("credentials");
    assert!(!error.to_string().contains("ghp_secret"), "{error}");
    assert_eq!(error.0[0].rule, Rule::RepositoryCredentials);
    spec.repository.url = "ssh://git:pw@host/a".into();
    assert_eq!(
        eval(&spec, &[]).expect_err("ssh password").0[0].rule,
        Rule::RepositoryCredentials
    );
}

#[test]
fn http_git_and_file_need_a_policy() {
    for (url, scheme) in [
        ("http://git.local/a", ExtraScheme::Http),
        ("git://git.local/a", ExtraScheme::Git),
        ("file:///srv/a.git", ExtraScheme::File),
    ] {
        let mut spec = commit();
        spec.repository.url = url.into();
        assert_eq!(
            broken(eval(&spec, &[])),
            [("spec.repository.url".to_owned(), Rule::RepositoryScheme)]
        );
        let allow = policy(
            "lab",
            GitExportPolicySpec {
                allowed_schemes: vec![scheme],
                ..base()
            },
        );
        assert!(eval(&spec, &[&allow]).is_ok(), "{url}");
    }
    let mut spec = commit();
    spec.repository.url = "ftp://x/a".into();
    assert!(eval(&spec, &[]).is_err());
}

#[test]
fn repository_and_branch_allow_lists() {
    let only = policy(
        "company",
        GitExportPolicySpec {
            repositories: vec![RepositoryRule {
                url: "https://github.com/company/*".into(),
                branches: vec!["main".into(), "backups/*".into()],
                ..RepositoryRule::default()
            }],
            ..base()
        },
    );
    let mut spec = commit();
    assert!(eval(&spec, &[&only]).is_ok());
    spec.repository.branch = Some("backups/prod".into());
    assert!(eval(&spec, &[&only]).is_ok());
    spec.repository.branch = Some("dev".into());
    assert_eq!(
        broken(eval(&spec, &[&only])),
        [("spec.repository.branch".to_owned(), Rule::BranchAllowed)]
    );
    spec.repository.branch = Some("main".into());
    spec.repository.url = "https://github.com/other/repo".into();
    assert_eq!(
        broken(eval(&spec, &[&only])),
        [("spec.repository.url".to_owned(), Rule::RepositoryAllowed)]
    );
    spec.repository.url = "https://github.com/company/nested/repo".into();
    assert!(
        eval(&spec, &[&only]).is_err(),
        "`*` stays within one segment"
    );
}

#[test]
fn branch_names_follow_git() {
    let mut spec = commit();
    for bad in ["a..b", "-x", "a b", "x.lock", "/a", "a~1"] {
        spec.repository.branch = Some(bad.into());
        assert_eq!(
            broken(eval(&spec, &[])),
            [("spec.repository.branch".to_owned(), Rule::BranchName)],
            "{bad}"
        );
    }
}

#[test]
fn path_prefixes() {
    let prefixes = policy(
        "paths",
        GitExportPolicySpec {
            paths: Some(PathRules {
                allowed_prefixes: vec!["clusters/".into()],
            }),
            ..base()
        },
    );
    let mut spec = commit();
    spec.export.files.push(file("clusters/a.yaml"));
    assert!(eval(&spec, &[&prefixes]).is_ok());
    spec.export.files.push(file("other/a.yaml"));
    assert_eq!(
        broken(eval(&spec, &[&prefixes])),
        [("spec.files[1].path".to_owned(), Rule::PathPrefix)]
    );
}

#[test]
fn denied_kinds() {
    let deny = policy(
        "no-sa",
        GitExportPolicySpec {
            denied_kinds: vec![GroupKind {
                group: "".into(),
                kind: "ServiceAccount".into(),
            }],
            ..base()
        },
    );
    let mut spec = commit();
    spec.export
        .resource_references
        .push(reference("ConfigMap", Strategy::Dump, None, "a.yaml"));
    assert!(eval(&spec, &[&deny]).is_ok());
    spec.export.resource_references.push(reference(
        "ServiceAccount",
        Strategy::Dump,
        None,
        "b.yaml",
    ));
    assert_eq!(
        broken(eval(&spec, &[&deny])),
        [(
            "spec.resourceReferences[1].kind".to_owned(),
            Rule::DeniedKind
        )]
    );
}

#[test]
fn limits() {
    let limits = policy(
        "small",
        GitExportPolicySpec {
            limits: Some(Limits {
                max_files: Some(2),
                max_file_bytes: Some(3),
            }),
            ..base()
        },
    );
    let mut spec = commit();
    spec.export.files.push(file("a"));
    assert!(eval(&spec, &[&limits]).is_ok());
    spec.export.files[0].content = "abcd".into();
    spec.export.files.push(file("b"));
    spec.export.files.push(file("c"));
    assert_eq!(
        broken(eval(&spec, &[&limits])),
        [
            ("spec.files".to_owned(), Rule::MaxFiles),
            ("spec.files[0].content".to_owned(), Rule::MaxFileBytes)
        ]
    );
    let mut many = commit();
    many.export.files = (0..10_000).map(|i| file(&format!("f{i}"))).collect();
    assert_eq!(
        broken(eval(&many, &[])),
        [("spec.files".to_owned(), Rule::MaxFiles)]
    );
}

#[test]
fn several_violations_are_reported_together() {
    let mut spec = commit();
    spec.repository.url = "http://u:p@x/a".into();
    spec.export.files.push(file("../a"));
    spec.export
        .resource_references
        .push(reference("Secret", Strategy::Dump, None, "s.yaml"));
    let error = eval(&spec, &[]).expect_err("refused");
    assert_eq!(error.0.len(), 4, "{error}");
    assert!(error.iter().all(|v| v.field.starts_with("spec.")));
}

pub(super) fn pull_request(url: &str) -> PullRequestSpec {
    PullRequestSpec {
        repository: PullRequestRepository {
            url: url.into(),
            base_branch: Some("main".into()),
            provider: None,
            api_url: None,
        },
        auth: None,
        pull_request: PullRequestOptions {
            title: "Sync".into(),
            body: "`code` in Markdown".into(),
            branch_prefix: Some("gco".into()),
            head_branch: None,
            keep_on_deletion: false,
        },
        commit: None,
        export: ExportSpec::default(),
    }
}

#[test]
fn pull_requests_infer_the_forge_or_require_it() {
    let spec = pull_request("https://github.com/company/gitops.git");
    let request = ExportRequest::pull_request("team", &spec);
    assert!(evaluate(&request, &[]).is_ok());
    let found = defaults(&request, &[]);
    assert_eq!(found.provider, Some(ForgeProvider::Github));
    assert_eq!(found.message, "Changes for PR: Sync");
    let mut spec = pull_request("https://git.example.com/a/b.git");
    let errors = evaluate(&ExportRequest::pull_request("team", &spec), &[]).expect_err("provider");
    assert_eq!(errors.0[0].field, "spec.repository.provider");
    spec.repository.provider = Some(ForgeProvider::Gitea);
    assert!(evaluate(&ExportRequest::pull_request("team", &spec), &[]).is_ok());
}

#[test]
fn defaults_come_from_the_first_policy_by_name_else_built_in() {
    let spec = commit();
    let request = ExportRequest::git_commit("team", &spec);
    let built_in = defaults(&request, &[]);
    assert_eq!(built_in.author, DEFAULT_AUTHOR);
    assert_eq!(built_in.branch, "main");
    assert_eq!(built_in.reference_namespace, "team");
    let with = policy(
        "a",
        GitExportPolicySpec {
            defaults: Some(PolicyDefaults {
                author: Some("Ops <ops@x>".into()),
                ..Default::default()
            }),
            ..base()
        },
    );
    assert_eq!(defaults(&request, &[&with]).author, "Ops <ops@x>");
}

#[test]
fn selectors_match_labels_and_expressions() {
    let labels = BTreeMap::from([("team".to_owned(), "a".to_owned())]);
    let by_label = LabelSelector {
        match_labels: Some(BTreeMap::from([("team".to_owned(), "a".to_owned())])),
        match_expressions: None,
    };
    assert!(selects(Some(&by_label), &labels));
    assert!(selects(None, &labels));
    let not_in = LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "team".into(),
            operator: "NotIn".into(),
            values: Some(vec!["a".into()]),
        }]),
    };
    assert!(!selects(Some(&not_in), &labels));
    assert!(selects(Some(&not_in), &BTreeMap::new()));
}

#[test]
fn invalid_policies_are_refused() {
    let bad = GitExportPolicySpec {
        repositories: vec![RepositoryRule {
            url: "https://x/[".into(),
            branches: vec![],
            ..RepositoryRule::default()
        }],
        ..base()
    };
    assert!(validate_policy(&bad).is_err());
    assert!(validate_policy(&base()).is_ok());
}

#[test]
fn paths_are_normalised_without_hiding_what_the_rules_refuse() {
    assert_eq!(
        normalise_path("./clusters//prod/./app.yaml"),
        "clusters/prod/app.yaml"
    );
    assert_eq!(normalise_path("clusters/prod//"), "clusters/prod/");
    assert_eq!(normalise_path("clusters/app.yaml"), "clusters/app.yaml");
    for untouched in [
        "../x",
        "/etc/passwd",
        "a/../b",
        "backups/$(date +%Y//%m)/x",
        "./",
    ] {
        let normal = normalise_path(untouched);
        assert!(
            normal == untouched || normal.contains(".."),
            "{untouched} -> {normal}"
        );
    }
}
