//! `/validate`: every rule of [`gco_api::rules`], then the requester-access checks.

use std::collections::HashSet;

use futures::{StreamExt as _, stream};
use gco_api::{
    GitExportPolicySpec, ResourceReference,
    rules::{self, AccessCheck, ExportKind, split_api_version},
};
use k8s_openapi::api::authentication::v1::UserInfo;
use serde::Deserialize;
use serde_json::Value;

use crate::{cluster::Cluster, spec::AdmittedSpec};

/// Why an object is refused: the message the user sees.
#[derive(Debug)]
pub struct Denied(pub String);

/// SubjectAccessReviews one review runs at once. A review may reference up to a thousand
/// objects: all at once would be a burst against the apiserver that one user can trigger at
/// will, one after another would make the review outlast the apiserver's webhook timeout.
pub const MAX_CONCURRENT_ACCESS_CHECKS: usize = 8;

/// Validates a GitCommit or PullRequest `object` in `namespace`, requested by `user`.
pub async fn validate_export<C: Cluster>(
    cluster: &C,
    kind: ExportKind,
    namespace: &str,
    user: &UserInfo,
    object: &Value,
) -> Result<(), Denied> {
    let typed = AdmittedSpec::read(kind, object).map_err(Denied)?;
    let labels = cluster
        .namespace_labels(namespace)
        .await
        .map_err(|error| Denied(format!("{error}; retry in a moment")))?;
    let policies = cluster
        .policies()
        .map_err(|error| Denied(format!("{error}; retry in a moment")))?;
    let requirements = policies
        .check(&typed.request(namespace, object), &labels)
        .map_err(|v| Denied(v.to_string()))?;
    check_kinds(cluster, &typed.export().resource_references).await?;
    check_access(cluster, user, requirements.access_checks).await
}

/// Refuses references to kinds the cluster does not serve (a CRD not installed yet, a typo):
/// their scope is unknown, so neither the access check nor the controller could read them
/// as intended.
async fn check_kinds<C: Cluster>(
    cluster: &C,
    references: &[ResourceReference],
) -> Result<(), Denied> {
    let mut refusals = Vec::new();
    let mut seen = HashSet::new();
    for (index, reference) in references.iter().enumerate() {
        if !seen.insert((reference.api_version.as_str(), reference.kind.as_str())) {
            continue;
        }
        let (group, version) = split_api_version(&reference.api_version);
        let field = format!("spec.resourceReferences[{index}].kind");
        match cluster.kind_served(group, version, &reference.kind).await {
            Ok(true) => {}
            Ok(false) => refusals.push(format!(
                "{field}: the cluster serves no kind {:?} in {:?} (rule unknown-kind); fix: check `apiVersion` and `kind`, or install the CRD that defines it before referencing it",
                reference.kind, reference.api_version
            )),
            Err(error) => refusals.push(format!("{field}: {error}; retry in a moment")),
        }
    }
    refuse_all(refusals)
}

/// Runs the access checks, [`MAX_CONCURRENT_ACCESS_CHECKS`] at a time (one SubjectAccessReview
/// per distinct object), and refuses with every object the user may not read, in the order of
/// the references.
async fn check_access<C: Cluster>(
    cluster: &C,
    user: &UserInfo,
    checks: Vec<AccessCheck>,
) -> Result<(), Denied> {
    let mut seen = HashSet::new();
    let distinct: Vec<AccessCheck> = checks
        .into_iter()
        .filter(|c| {
            seen.insert((
                c.group.clone(),
                c.kind.clone(),
                c.namespace.clone(),
                c.name.clone(),
            ))
        })
        .collect();
    // The futures are built up front (they start nothing until polled): a lazy `map` over the
    // checks would hold a closure the compiler cannot prove `Send` for every borrow.
    let pending: Vec<_> = distinct
        .iter()
        .map(|check| cluster.allowed(user, check))
        .collect();
    // `buffered` keeps the answers in the order of the checks.
    let answers: Vec<_> = stream::iter(pending)
        .buffered(MAX_CONCURRENT_ACCESS_CHECKS)
        .collect()
        .await;
    let mut refusals = Vec::new();
    for (check, answer) in distinct.iter().zip(answers) {
        match answer {
            Ok(true) => {}
            Ok(false) => refusals.push(format!(
                "{}: user {:?} may not {}, so may not export it (rule requester-access); fix: reference an object you can read, or ask a cluster admin for `{}` on it (an admin may also set `spec.requireRequesterAccess: false` on every GitExportPolicy that selects this namespace)",
                check.field,
                user.username.as_deref().unwrap_or("(unknown)"),
                check.describe(),
                check.verb,
            )),
            Err(error) => refusals.push(format!("{}: {error}; retry in a moment", check.field)),
        }
    }
    refuse_all(refusals)
}

/// Every refusal together, in the shape of the rules' violations; none means allowed.
fn refuse_all(refusals: Vec<String>) -> Result<(), Denied> {
    if refusals.is_empty() {
        return Ok(());
    }
    let count = refusals.len();
    let plural = if count == 1 { "" } else { "s" };
    Err(Denied(format!(
        "{count} policy violation{plural}:\n- {}",
        refusals.join("\n- ")
    )))
}

/// Validates a GitExportPolicy `object`.
pub fn validate_policy(object: &Value) -> Result<(), Denied> {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let spec = GitExportPolicySpec::deserialize(spec)
        .map_err(|error| Denied(format!("spec cannot be read: {error}")))?;
    rules::validate_policy(&spec).map_err(|v| Denied(v.to_string()))
}

/// Whether an update leaves the spec alone (finalizers, labels, annotations): such updates
/// are not checked against the updater, who may be the controller removing a finalizer.
pub fn spec_unchanged(object: &Value, old_object: Option<&Value>) -> bool {
    old_object.is_some_and(|old| old.get("spec") == object.get("spec"))
}
