//! Who may read what: cross-namespace references, and the requester-access checks (every
//! referenced object and the auth Secret).

use super::tests::{base, broken, commit, eval, policy, reference};
use super::*;
use crate::common::Strategy;
use crate::policy::GitExportPolicySpec;

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
