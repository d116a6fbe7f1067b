//! Properties of the evaluator: it never panics, and every violation names a `spec.` field.

use proptest::prelude::*;

use super::tests::{commit, pull_request, reference};
use super::*;
use crate::common::{FileSpec, Strategy};
use crate::policy::{GitExportPolicySpec, Limits, PathRules, RepositoryRule, SecretRules};

fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    prop_oneof![
        Just(Strategy::Dump),
        Just(Strategy::Fields),
        Just(Strategy::SingleField)
    ]
}

proptest! {
    #[test]
    fn never_panics_and_always_names_a_spec_field(
        url in "\\PC{0,40}",
        branch in "\\PC{0,20}",
        message in "\\PC{0,30}",
        paths in proptest::collection::vec("\\PC{0,30}", 0..4),
        policy in proptest::option::of(("\\PC{0,20}", "\\PC{0,10}", "\\PC{0,10}", "\\PC{0,10}", any::<bool>(), 0u32..3)),
        kinds in proptest::collection::vec(("(Secret|ConfigMap|\\PC{0,8})", strategy(), proptest::option::of("\\PC{0,10}"), "\\PC{0,20}", proptest::option::of("\\PC{0,8}")), 0..4),
    ) {
        let mut spec = commit();
        spec.repository.url = url;
        spec.repository.branch = Some(branch);
        spec.commit.get_or_insert_with(Default::default).message = Some(message);
        spec.export.files = paths.into_iter().map(|path| FileSpec { path, content: String::new(), write_mode: None, encryption: None }).collect();
        spec.export.resource_references = kinds
            .into_iter()
            .map(|(kind, strategy, field, path, namespace)| {
                let mut r = reference(&kind, strategy, field.as_deref(), &path);
                r.namespace = namespace;
                r
            })
            .collect();
        let policy = policy.map(|(url, branch, prefix, field, cross, max_files)| {
            GitExportPolicy::new("p", GitExportPolicySpec {
                repositories: vec![RepositoryRule { url, branches: vec![branch], ..RepositoryRule::default() }],
                paths: Some(PathRules { allowed_prefixes: vec![prefix] }),
                secrets: Some(SecretRules { allowed_fields: vec![field], encryption: None }),
                cross_namespace_references: cross,
                require_requester_access: true,
                limits: Some(Limits { max_files: Some(max_files), max_file_bytes: Some(1) }),
                ..Default::default()
            })
        });
        let policies: Vec<&GitExportPolicy> = policy.iter().collect();
        let request = ExportRequest::git_commit("team", &spec);
        let _ = defaults(&request, &policies);
        if let Some(policy) = &policy {
            let _ = validate_policy(&policy.spec);
        }
        if let Err(violations) = evaluate(&request, &policies) {
            prop_assert!(!violations.is_empty());
            for violation in violations.iter() {
                prop_assert!(violation.field.starts_with("spec."), "{violation}");
                prop_assert!(!violation.fix.is_empty());
            }
        }
    }
}

proptest! {
    #[test]
    fn pull_requests_never_panic_and_always_name_a_spec_field(
        base in "\\PC{0,20}",
        head in proptest::option::of("(HEAD|main|gco/[a-z.]{0,8}|\\PC{0,20})"),
        prefix in "(gco|bots/|\\PC{0,10})",
        name in proptest::option::of("[a-z0-9.-]{0,20}"),
        title in "(\\PC|\\$\\(date \"\\+%nGco-Run: x\"\\)|\n){0,30}",
        message in proptest::option::of("(\\PC|\n|Gco-Object:|gco-run :){0,30}"),
        branches in proptest::collection::vec("(main|gco/\\*|\\PC{0,10})", 0..3),
    ) {
        let mut spec = pull_request("https://github.com/company/gitops.git");
        spec.repository.base_branch = Some(base);
        spec.pull_request.head_branch = head;
        spec.pull_request.branch_prefix = Some(prefix);
        spec.pull_request.title = title;
        spec.commit = message.map(|message| crate::common::CommitSpec { message: Some(message), ..Default::default() });
        let policy = GitExportPolicy::new("p", GitExportPolicySpec {
            repositories: vec![RepositoryRule { url: "https://github.com/company/*".into(), branches, ..RepositoryRule::default() }],
            cross_namespace_references: true,
            require_requester_access: true,
            ..Default::default()
        });
        let mut request = ExportRequest::pull_request("team", &spec);
        if let Some(name) = name.as_deref() {
            request = request.named(name);
        }
        if let Err(violations) = evaluate(&request, &[&policy]) {
            prop_assert!(!violations.is_empty());
            for violation in violations.iter() {
                prop_assert!(violation.field.starts_with("spec."), "{violation}");
                prop_assert!(!violation.fix.is_empty());
            }
        }
    }
}
