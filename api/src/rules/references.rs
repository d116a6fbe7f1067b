//! Rules on `spec.resourceReferences`: Secrets, denied kinds, cross-namespace references,
//! and the access checks the requesting user must pass.

use kube::ResourceExt;

use super::{ExportRequest, Rule, Violation, Violations, repository::short};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::common::{ResourceReference, Strategy, Target, WriteMode};
use crate::kind::split_api_version;
use crate::policy::GitExportPolicy;

/// Secret keys `single-field` may export with no policy: public certificate material.
pub const BUILTIN_SECRET_FIELDS: [&str; 2] = ["tls.crt", "ca.crt"];

/// One `get` the requesting user must be allowed, checked by the webhook with a
/// SubjectAccessReview.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessCheck {
    /// The reference, e.g. `spec.resourceReferences[2]`.
    pub field: String,
    /// API group of the object (`""` for the core group).
    pub group: String,
    /// API version of the object (`v1`).
    pub version: String,
    /// Kind of the object; the checker resolves it to a resource.
    pub kind: String,
    /// The namespace the object is read from (ignored for cluster-scoped kinds).
    pub namespace: String,
    /// Empty for a `list` check.
    pub name: String,
    /// `get` for a reference by name, `list` for a selector: what the controller does.
    pub verb: &'static str,
}

impl AccessCheck {
    /// `get` of Secret `name` in `namespace`, for the spec field that names it.
    fn secret(field: &str, namespace: &str, name: &str) -> Self {
        AccessCheck {
            field: field.to_owned(),
            group: String::new(),
            version: "v1".to_owned(),
            kind: "Secret".to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            verb: "get",
        }
    }

    /// What the check asks, as a refusal says it: `get ConfigMap "app" in namespace "team"`,
    /// `list ConfigMap in namespace "team"`, `list ConfigMap in every namespace`.
    pub fn describe(&self) -> String {
        let what = match self.name.is_empty() {
            true => format!("{} {}", self.verb, self.kind),
            false => format!("{} {} {:?}", self.verb, self.kind, self.name),
        };
        match self.namespace.is_empty() {
            true => format!("{what} in every namespace"),
            false => format!("{what} in namespace {:?}", self.namespace),
        }
    }
}

fn is_secret(reference: &ResourceReference) -> bool {
    crate::kind::is_secret(&reference.api_version, &reference.kind)
}

/// Checks every reference and returns the access checks to run.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) -> Vec<AccessCheck> {
    let allowed_fields: Vec<&str> = BUILTIN_SECRET_FIELDS
        .into_iter()
        .chain(policies.iter().flat_map(|p| {
            p.spec
                .secrets
                .iter()
                .flat_map(|s| s.allowed_fields.iter().map(String::as_str))
        }))
        .collect();
    let recipients = age_recipients(policies);
    let mut checks = Vec::new();
    for (index, reference) in request.export.resource_references.iter().enumerate() {
        let field = format!("spec.resourceReferences[{index}]");
        if is_secret(reference) {
            let allowed = Allowed {
                fields: &allowed_fields,
                sealed: !recipients.is_empty(),
            };
            check_secret(&field, reference, &allowed, request, out);
        }
        check_denied_kind(&field, reference, policies, out);
        let namespace = reference
            .namespace
            .as_deref()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or(request.namespace);
        let (name, verb, namespace) = match reference.target() {
            Some(Target::Named(name)) => (name.to_owned(), "get", namespace),
            Some(Target::Selected {
                selector,
                namespaces,
            }) => {
                check_selector(&format!("{field}.selector"), selector, out);
                check_busy_kind(&field, reference, out);
                if let Some(namespaces) = namespaces {
                    check_selector(&format!("{field}.namespaceSelector"), namespaces, out);
                }
                // Whoever may not list the kind everywhere may not have it listed everywhere.
                (
                    String::new(),
                    "list",
                    if namespaces.is_some() { "" } else { namespace },
                )
            }
            None => {
                out.push(Violation::new(
                    format!("{field}.name"),
                    Rule::Selector,
                    "the reference gives both or neither of `name` and `selector`",
                    "give `name` to export one object, or `selector` to export every object whose labels match",
                ));
                continue;
            }
        };
        if namespace != request.namespace {
            check_cross_namespace(&field, namespace, request.namespace, policies, out);
        }
        let (group, version) = split_api_version(&reference.api_version);
        checks.push(AccessCheck {
            field,
            group: group.to_owned(),
            version: version.to_owned(),
            kind: reference.kind.clone(),
            namespace: namespace.to_owned(),
            name,
            verb,
        });
    }
    // The credentials are read with the operator's rights and sent to the repository URL the
    // spec names: who may not read the Secret may not have them sent anywhere.
    if let Some(secret) = request.auth_secret.filter(|s| !s.is_empty()) {
        checks.push(AccessCheck::secret(
            "spec.auth.secretName",
            request.namespace,
            secret,
        ));
    }
    // The key signs commits in the name of whoever owns it: who may not read the Secret may
    // not have commits signed with it.
    if let Some(secret) = request.commit.and_then(|c| c.signing_secret()) {
        checks.push(AccessCheck::secret(
            super::signing::SIGNING_FIELD,
            request.namespace,
            secret,
        ));
    }
    checks
}

/// The age recipients a Secret `dump` is sealed to: those of every matching policy, sorted.
pub fn age_recipients(policies: &[&GitExportPolicy]) -> Vec<String> {
    let mut recipients: Vec<String> = policies
        .iter()
        .flat_map(|p| p.spec.secrets.iter())
        .flat_map(|s| s.encryption.iter())
        .flat_map(|e| e.age_recipients.iter().cloned())
        .collect();
    recipients.sort();
    recipients.dedup();
    recipients
}

/// What the policies allow of a Secret: keys for `single-field`, and `dump` when sealed.
struct Allowed<'a> {
    fields: &'a [&'a str],
    sealed: bool,
}

fn check_secret(
    field: &str,
    reference: &ResourceReference,
    allowed: &Allowed<'_>,
    request: &ExportRequest<'_>,
    out: &mut Violations,
) {
    let namespace = request.namespace;
    let write_mode = reference.write_mode.unwrap_or(request.export.write_mode());
    if reference.selector.is_some() {
        out.push(Violation::new(
            format!("{field}.selector"),
            Rule::Selector,
            "a selector cannot select Secrets: the operator never lists Secrets, since a list returns every value",
            "name each Secret in its own reference",
        ));
    }
    let fields = allowed.fields;
    match reference.strategy {
        // Sealed with SOPS to the policies' recipients: rewritten whole at each change.
        Strategy::Dump if allowed.sealed && write_mode == WriteMode::Append => {
            out.push(Violation::new(
                format!("{field}.writeMode"),
                Rule::SecretStrategy,
                format!(
                    "Secret {} is dumped encrypted, and an encrypted file is rewritten whole: it cannot be appended to",
                    reference.describe()
                ),
                "use `writeMode: overwrite` for this reference",
            ));
        }
        Strategy::Dump if allowed.sealed => {}
        Strategy::Dump | Strategy::Fields => out.push(Violation::new(
            format!("{field}.strategy"),
            Rule::SecretStrategy,
            format!(
                "Secret {} cannot be exported with `{}`: that would write every key, private keys and passwords included",
                reference.describe(),
                if reference.strategy == Strategy::Dump { "dump" } else { "fields" }
            ),
            format!(
                "use `strategy: single-field` with `field` set to an allowed key ({fields:?}); keys beyond those are added by a cluster admin in `spec.secrets.allowedFields` of a GitExportPolicy, and whole Secrets are dumped encrypted with SOPS once one lists age recipients in `spec.secrets.encryption.ageRecipients`"
            ),
        )),
        Strategy::SingleField => {
            let key = reference.field.as_deref().unwrap_or_default();
            let allowed = fields;
            if !allowed.contains(&key) {
                out.push(Violation::new(
                    format!("{field}.field"),
                    Rule::SecretField,
                    format!(
                        "Secret key {:?} of Secret {} may not be exported: only {allowed:?} are allowed",
                        short(key),
                        reference.describe()
                    ),
                    format!(
                        "export one of {allowed:?}, or ask a cluster admin to add {:?} to `spec.secrets.allowedFields` of a GitExportPolicy that selects namespace {namespace:?}",
                        short(key)
                    ),
                ));
            }
        }
    }
}

/// A tenant's selector must mean the same to the apiserver and to the operator's caches.
fn check_selector(field: &str, selector: &LabelSelector, out: &mut Violations) {
    if let Err(error) = crate::selector::parse(selector) {
        out.push(Violation::new(
            field,
            Rule::Selector,
            error.to_string(),
            "write a Kubernetes label selector: `matchLabels` of valid label keys and values, `matchExpressions` with `In`/`NotIn` (with values) or `Exists`/`DoesNotExist` (without)",
        ));
    }
}

/// Kinds whose objects change every few seconds by design: a selector over them would make a
/// run, and a commit, all the time. (Named one by one, they can still be exported.)
const BUSY_KINDS: [(&str, &str); 3] = [
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("coordination.k8s.io", "Lease"),
];

fn check_busy_kind(field: &str, reference: &ResourceReference, out: &mut Violations) {
    let (group, _) = split_api_version(&reference.api_version);
    if BUSY_KINDS
        .iter()
        .any(|(g, k)| *g == group && k.eq_ignore_ascii_case(&reference.kind))
    {
        out.push(Violation::new(
            format!("{field}.selector"),
            Rule::Selector,
            format!(
                "a selector cannot select {}: its objects change every few seconds, so every change would be a run and a commit",
                reference.kind
            ),
            "name the objects to export, or export another kind",
        ));
    }
}

fn check_denied_kind(
    field: &str,
    reference: &ResourceReference,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    let (group, _) = split_api_version(&reference.api_version);
    for policy in policies {
        let denied = policy
            .spec
            .denied_kinds
            .iter()
            .any(|gk| gk.group == group && gk.kind.eq_ignore_ascii_case(&reference.kind));
        if denied {
            let name = policy.name_any();
            out.push(Violation::new(
                format!("{field}.kind"),
                Rule::DeniedKind,
                format!(
                    "kind {:?} (group {group:?}) may not be exported: GitExportPolicy {name:?} denies it",
                    reference.kind
                ),
                format!(
                    "remove this reference, or ask a cluster admin to remove it from `spec.deniedKinds` of GitExportPolicy {name:?}"
                ),
            ));
        }
    }
}

fn check_cross_namespace(
    field: &str,
    namespace: &str,
    own: &str,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    for policy in policies
        .iter()
        .filter(|p| !p.spec.cross_namespace_references)
    {
        let name = policy.name_any();
        let (field, looks) = match namespace.is_empty() {
            true => (
                format!("{field}.namespaceSelector"),
                format!("`namespaceSelector` looks beyond this object's namespace {own:?}"),
            ),
            false => (
                format!("{field}.namespace"),
                format!("namespace {namespace:?} is not this object's namespace {own:?}"),
            ),
        };
        out.push(Violation::new(
            field,
            Rule::CrossNamespace,
            format!(
                "{looks}, and GitExportPolicy {name:?} forbids cross-namespace references"
            ),
            format!(
                "reference objects in {own:?} only (leave `namespace` out), create the export in {namespace:?}, or ask a cluster admin to set `spec.crossNamespaceReferences: true` on GitExportPolicy {name:?}"
            ),
        ));
    }
}
