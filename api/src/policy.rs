//! `GitExportPolicy`: what may be exported, to which repositories and branches. Every policy
//! whose namespace selector matches applies; an object must satisfy all of them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::WriteMode;

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Longest glob, in bytes. Real URL and branch globs are a few dozen bytes; at this length
/// compiling and matching one against a 4 KiB text stays in the low milliseconds. (The bounds
/// live with the policy type: its schema states them, and the rules read them from here.)
pub const MAX_GLOB_BYTES: usize = 256;
/// Most `repositories` rules in one policy.
pub const MAX_REPOSITORY_RULES: usize = 64;
/// Most `branches` globs in one repository rule.
pub const MAX_BRANCH_GLOBS: usize = 32;

/// The cluster admins' say over exports: allowed repositories and branches, path prefixes,
/// Secret keys, denied kinds, limits and defaults for the namespaces it selects.
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "gco.galos.one",
    version = "v1",
    kind = "GitExportPolicy",
    shortname = "gep",
    category = "gco",
    derive = "PartialEq",
    doc = "GitExportPolicy is the cluster admins' say over exports: allowed repositories, branches, paths, Secret keys and kinds, limits and defaults.",
    printcolumn = r#"{"name":"Cross-Namespace","type":"boolean","jsonPath":".spec.crossNamespaceReferences"}"#,
    printcolumn = r#"{"name":"Requester-Access","type":"boolean","jsonPath":".spec.requireRequesterAccess"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GitExportPolicySpec {
    /// Namespaces this policy governs. Default: empty, which selects every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Allowed repositories and their branches; at most 64 rules. Default: empty, which
    /// allows any repository (the built-in rules still apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_REPOSITORY_RULES))]
    pub repositories: Vec<RepositoryRule>,
    /// URL schemes allowed besides `https` and `ssh`: `http`, `git` or `file`. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 3))]
    pub allowed_schemes: Vec<ExtraScheme>,
    /// Forge API URLs (globs, e.g. `https://api.github.example.com/*`) a PullRequest's
    /// `spec.repository.apiURL` may name on a host other than its repository's: the forge
    /// token is sent there. Default: empty, which allows only the repository's own host.
    #[serde(
        default,
        rename = "allowedAPIURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(length(max = 64), inner(length(min = 1, max = 256)))]
    pub allowed_api_urls: Vec<String>,
    /// Where files may be written. Default: anywhere safe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathRules>,
    /// Which Secret keys `single-field` may export. Default: the built-in `tls.crt`, `ca.crt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretRules>,
    /// Which age recipients files may be encrypted to (`output.encryption`,
    /// `files[].encryption`). Default: none (no file may be encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionRules>,
    /// Kinds that may never be exported; at most 256. Default: none (Secrets are restricted
    /// by the built-in rules regardless).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub denied_kinds: Vec<GroupKind>,
    /// Whether objects outside the exporting object's namespace may be referenced.
    /// Default: true (the requester-access check closes the confused-deputy hole).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub cross_namespace_references: bool,
    /// Whether the user who creates or changes a spec must be allowed to `get` every object it
    /// references (checked with a SubjectAccessReview). Default: true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub require_requester_access: bool,
    /// Size limits of one object, tighter than the built-in ceilings. Default: the built-in
    /// ceilings of 1000 files and references and 1 MiB per rendered inline file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Defaults the admission webhook fills into specs that leave a field empty.
    /// Default: the built-in defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<PolicyDefaults>,
}

/// An allowed repository URL pattern and the branches allowed on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryRule {
    /// Glob over the repository URL, e.g. `https://github.com/company/*`; at most 256
    /// characters. Required; no default.
    #[schemars(length(min = 1, max = MAX_GLOB_BYTES))]
    pub url: String,
    /// Globs over every branch written to: the GitCommit branch, and the PullRequest base and
    /// head branches, e.g. `backups/*` or `gco/*`. At most 32 globs of at most 256 characters.
    /// Default: empty, which allows any branch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = MAX_BRANCH_GLOBS),
        inner(length(min = 1, max = MAX_GLOB_BYTES))
    )]
    pub branches: Vec<String>,
    /// When true, every commit the operator makes to a matching repository and branch (for a
    /// PullRequest: its base or head branch) is signed: a spec without
    /// `spec.commit.signingKey.secretName` is refused at admission and at every reconcile.
    /// Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_commits: bool,
}

/// A URL scheme that is refused unless a policy allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExtraScheme {
    Http,
    Git,
    File,
}

/// Where files may be written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PathRules {
    /// Folders every written path must lie in, e.g. `clusters/` (`clusters` means the same
    /// folder, and admits neither `clusters-evil/` nor the file `clusters`). At most 256, of at
    /// most 4096 characters. Default: empty, which allows any safe path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 4096)))]
    pub allowed_prefixes: Vec<String>,
}

/// Which Secret keys may be exported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRules {
    /// Secret keys that `single-field` may export, in addition to the built-in `tls.crt` and
    /// `ca.crt`. At most 256, of at most 253 characters. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 253)))]
    pub allowed_fields: Vec<String>,
    /// Whole Secrets may be exported with `dump` when encrypted: with SOPS, to these
    /// recipients. Default: none (Secrets are never dumped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<SecretEncryption>,
}

/// The recipients exported files may be encrypted to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionRules {
    /// age recipients (X25519 `age1…` or `ssh-ed25519 …`) a spec may name in its
    /// `encryption.age`: a tenant who could name any recipient would simply be exfiltrating.
    /// At most 64, of at most 1024 characters. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 1024)))]
    pub age_recipients: Vec<String>,
}

/// How whole Secrets are encrypted when dumped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretEncryption {
    /// age X25519 recipients (`age1…`) a Secret `dump` is encrypted to with SOPS, together with
    /// those of every other matching policy: whoever holds one of their identities (Flux's
    /// kustomize-controller, `sops --decrypt`) can decrypt it, nobody else. At most 16, of at
    /// most 128 characters. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(min = 1, max = 128)))]
    pub age_recipients: Vec<String>,
}

/// A kind, by API group (`""` for the core group) and name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupKind {
    /// API group; `""` for the core group. At most 253 characters. Default: `""`.
    #[serde(default)]
    #[schemars(length(max = 253))]
    pub group: String,
    /// Kind, e.g. `ServiceAccount`; at most 63 characters. Required; no default.
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
}

/// Size limits of one run. A policy can only tighten the built-in ceilings, so the schema
/// refuses values above them (and the Rust types hold every value the schema admits).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Most files one object may write (inline files plus references), 1 to 1000.
    /// Default: the built-in ceiling of 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_files: Option<u32>,
    /// Largest inline `files[].content` in bytes once its placeholders are rendered (each
    /// counted at its longest), 1 to 1048576. Default: the built-in ceiling of 1048576 (1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1048576))]
    pub max_file_bytes: Option<u32>,
}

/// Defaults for specs in the namespaces a policy selects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDefaults {
    /// GitCommit branch / PullRequest base branch; at most 255 characters. Default: `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub branch: Option<String>,
    /// Commit author, `Name <email>`; at most 1024 characters. Default:
    /// `Git Change Operator <gco@localhost>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub author: Option<String>,
    /// Write mode. Default: `overwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<WriteMode>,
    /// PullRequest head-branch prefix; at most 100 characters. Default: `gco`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub branch_prefix: Option<String>,
}
