//! Who may read what: cross-namespace references, and the requester-access checks (every
//! referenced object and the auth Secret).

use super::tests::{base, broken, commit, eval, policy, reference};
use super::*;
use crate::common::ResourceReference;
use crate::common::Strategy;
use crate::policy::GitExportPolicySpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

#[test]
fn cross_namespace_references_are_allowed_unless_a_policy_forbids_them() {
    let mut spec = commit();
    let mut other = reference("ConfigMap", Strategy::Dump, None, "a.yaml");
    other.namespace = Some("production".into());
    spec.export.resource_references.push(other);
    let requirements = eval(&spec, &[]).expect("allowed by default");
    assert_eq!(requirements.access_checks[0].namespace, "production");
    let isolate = policy(
        "isolate",
        GitExportPolicySpec {
            cross_namespace_references: false,
            ..base()
        },
    );
    assert_eq!(
        broken(eval(&spec, &[&isolate])),
        [(
            "spec.resourceReferences[0].namespace".to_owned(),
            Rule::CrossNamespace
        )]
    );
}

#[test]
fn requester_access_can_be_turned_off_by_every_matching_policy() {
    let mut spec = commit();
    spec.export
        .resource_references
        .push(reference("ConfigMap", Strategy::Dump, None, "a.yaml"));
    let off = policy(
        "trust",
        GitExportPolicySpec {
            require_requester_access: false,
            ..base()
        },
    );
    let on = policy("strict", base());
    assert!(eval(&spec, &[&off]).expect("ok").access_checks.is_empty());
    assert_eq!(
        eval(&spec, &[&off, &on]).expect("ok").access_checks.len(),
        1
    );
}

#[test]
fn the_requester_must_be_allowed_to_read_the_auth_secret() {
    let mut spec = commit();
    spec.auth = Some(crate::AuthRef {
        secret_name: "git-credentials".into(),
    });
    let requirements = eval(&spec, &[]).expect("allowed");
    let check = requirements
        .access_checks
        .iter()
        .find(|c| c.field == "spec.auth.secretName")
        .expect("an access check on the auth Secret");
    assert_eq!(
        (
            check.kind.as_str(),
            check.namespace.as_str(),
            check.name.as_str(),
            check.verb
        ),
        ("Secret", "team", "git-credentials", "get")
    );
    let off = policy(
        "off",
        GitExportPolicySpec {
            require_requester_access: false,
            ..base()
        },
    );
    assert!(
        eval(&spec, &[&off])
            .expect("allowed")
            .access_checks
            .is_empty()
    );
}

fn selecting(labels: &[(&str, &str)]) -> ResourceReference {
    let mut selected = reference("ConfigMap", Strategy::Dump, None, "backups/");
    selected.name = None;
    selected.selector = Some(LabelSelector {
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        match_expressions: None,
    });
    selected
}

#[test]
fn a_selector_needs_list_where_it_looks_and_a_namespace_selector_needs_it_everywhere() {
    let mut spec = commit();
    spec.export
        .resource_references
        .push(selecting(&[("backup", "yes")]));
    let mut everywhere = selecting(&[("backup", "yes")]);
    everywhere.namespace_selector = Some(LabelSelector::default());
    spec.export.resource_references.push(everywhere);
    let checks = eval(&spec, &[]).expect("allowed").access_checks;
    let asked: Vec<(&str, &str, &str)> = checks
        .iter()
        .map(|c| (c.verb, c.namespace.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(asked, [("list", "team", ""), ("list", "", "")]);
    assert_eq!(checks[0].describe(), "list ConfigMap in namespace \"team\"");
    assert_eq!(checks[1].describe(), "list ConfigMap in every namespace");
    let isolate = policy(
        "isolate",
        GitExportPolicySpec {
            cross_namespace_references: false,
            ..base()
        },
    );
    assert_eq!(
        broken(eval(&spec, &[&isolate])),
        [(
            "spec.resourceReferences[1].namespaceSelector".to_owned(),
            Rule::CrossNamespace
        )]
    );
}

#[test]
fn selectors_that_could_mean_something_else_or_select_secrets_are_refused() {
    let mut spec = commit();
    spec.export
        .resource_references
        .push(selecting(&[("app", "web,env!=prod")]));
    let mut secrets = selecting(&[("a", "b")]);
    secrets.kind = "Secret".into();
    secrets.strategy = Strategy::SingleField;
    secrets.field = Some("tls.crt".into());
    spec.export.resource_references.push(secrets);
    let mut both = selecting(&[("a", "b")]);
    both.name = Some("x".into());
    spec.export.resource_references.push(both);
    let mut leases = selecting(&[]);
    leases.api_version = "coordination.k8s.io/v1".into();
    leases.kind = "Lease".into();
    spec.export.resource_references.push(leases);
    assert_eq!(
        broken(eval(&spec, &[])),
        [
            (
                "spec.resourceReferences[0].selector".to_owned(),
                Rule::Selector
            ),
            (
                "spec.resourceReferences[1].selector".to_owned(),
                Rule::Selector
            ),
            ("spec.resourceReferences[2].name".to_owned(), Rule::Selector),
            (
                "spec.resourceReferences[3].selector".to_owned(),
                Rule::Selector
            ),
        ]
    );
}
