//! Spec pieces shared by GitCommit and PullRequest: what to write and how.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference to a Secret, in the object's own namespace, that holds Git (and forge) credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthRef {
    /// Name of a Secret in the same namespace. HTTPS: `username` + `password`, or `bearerToken`,
    /// or `token` (username `oauth2`); optional `ca.crt`. SSH: `identity` (+ `password` for an
    /// encrypted key) and `known_hosts` (required). At most 253 characters. Required; no default.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// A reference to a Secret, in the object's own namespace, that holds the key the operator
/// signs its commits with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRef {
    /// Name of a Secret in the same namespace holding either an armored OpenPGP private key
    /// under `git.asc` (+ `passphrase` if it is encrypted; the format of Flux image
    /// automation), or an SSH private key in OpenSSH format under `identity` (+ `password` if
    /// it is encrypted). At most 253 characters. Required; no default.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// Author, message and signing key of the commits the operator makes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    /// Commit author as `Name <email>`, at most 1024 characters. Default: the matching
    /// GitExportPolicy's `defaults.author`, else `Git Change Operator <gco@localhost>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub author: Option<String>,
    /// Commit message; may use `$(date)` and `$(date +FORMAT)`. At most 65536 characters, and
    /// no line may start with the operator's own trailers `Gco-Object:` or `Gco-Run:`. Default
    /// for a GitCommit: `Update from git-change-operator`; for a PullRequest:
    /// `Changes for PR: <title>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 65536))]
    pub message: Option<String>,
    /// Signs every commit made for this object with the key of a Secret: an OpenPGP key
    /// (`gpg --verify`) or an SSH key (`gpg.format=ssh`), so that `git verify-commit` and
    /// branch protections that require signed commits accept them. Default: none (commits are
    /// not signed), unless a GitExportPolicy's `requireSignedCommits` requires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SigningKeyRef>,
}

impl CommitSpec {
    /// `signingKey.secretName`, when one is named.
    pub fn signing_secret(&self) -> Option<&str> {
        self.signing_key
            .as_ref()
            .map(|key| key.secret_name.as_str())
            .filter(|name| !name.is_empty())
    }
}

// How a file is written when it already exists on the branch. (No type-level doc comment:
// schemars would put it in place of the field docs of the CRD schema.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Replace the file's content.
    #[default]
    Overwrite,
    /// Append to the file (a newline is inserted first if it does not end with one); a `dump`,
    /// or a file named `*.yaml` / `*.yml`, is appended as a new YAML document after a `---` line.
    Append,
}

/// A file with inline content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileSpec {
    /// Path of the file, relative to the repository root; may use `$(date +FORMAT)`. At most
    /// 4096 characters. Required; no default.
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// Content of the file; may use `$(date)` placeholders. At most 1048576 characters (1 MiB)
    /// as written, and 1048576 bytes (or a policy's `limits.maxFileBytes`) once rendered.
    /// Default: empty.
    #[serde(default)]
    #[schemars(length(max = 1048576))]
    pub content: String,
    /// Overrides `spec.writeMode` for this file. Default: `spec.writeMode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<WriteMode>,
    /// Encrypt the file with age before it is written. Default: none (written as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<FileEncryption>,
}

/// How a file is encrypted before it is written: with age, armored, to recipients a
/// GitExportPolicy allows. An encrypted file is rewritten whole (never appended to), and only
/// when what it holds changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEncryption {
    /// age recipients: X25519 (`age1…`) or SSH (`ssh-ed25519 …`) public keys, each listed in
    /// `spec.encryption.ageRecipients` of a GitExportPolicy that selects the namespace. 1 to
    /// 16, of at most 1024 characters. Required; no default.
    #[schemars(length(min = 1, max = 16), inner(length(min = 1, max = 1024)))]
    pub age: Vec<String>,
}

/// How a referenced object becomes files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The whole object as clean, apply-ready YAML at `output.path`.
    #[default]
    Dump,
    /// One file per `data` / `binaryData` key under `output.path`.
    Fields,
    /// One `data` / `binaryData` key, or a dotted path into the object, at `output.path`.
    SingleField,
}

/// Where a referenced object is written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputSpec {
    /// Path relative to the repository root; may use `$(date +FORMAT)`. For `dump`, a path
    /// ending in `/` means `<path><name>.yaml`; for `fields`, the folder of the key files.
    /// At most 4096 characters. Required; no default.
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
    /// Encrypt every file the reference writes with age. Default: none (written as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<FileEncryption>,
}

/// A live cluster object to export.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.strategy != 'single-field' || has(self.field)")
        .message("field is required when strategy is single-field")
        .field_path(".field")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("self.strategy == 'single-field' || !has(self.field)")
        .message("field is only allowed when strategy is single-field")
        .field_path(".field")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("has(self.name) != has(self.selector)")
        .message("give exactly one of name (one object) and selector (every object whose labels match)")
        .field_path(".name")
        .reason(Reason::FieldValueInvalid),
    validation = Rule::new("!has(self.namespaceSelector) || (has(self.selector) && !has(self.__namespace__))")
        .message("namespaceSelector goes with selector, instead of namespace")
        .field_path(".namespaceSelector")
        .reason(Reason::FieldValueForbidden),
)]
pub struct ResourceReference {
    /// API version of the object, e.g. `v1` or `apps/v1`; at most 317 characters (a group
    /// and a version). Required; no default.
    #[schemars(length(min = 1, max = 317))]
    pub api_version: String,
    /// Kind of the object, e.g. `ConfigMap`; at most 63 characters. Required; no default.
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// Name of the object; at most 253 characters. Exactly one of `name` and `selector` is
    /// given. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// A label selector instead of `name`: every object of the kind whose labels it matches is
    /// exported, in `namespace` (or in every namespace `namespaceSelector` matches), and
    /// `output.path` is then a folder: `dump` writes `<path>/<namespace>/<name>.yaml`
    /// (`<path>/<name>.yaml` within one namespace or for a cluster-scoped kind), `fields`
    /// writes `<path>/<name>/<key>`, `single-field` writes `<path>/<name>`. An empty selector
    /// matches every object. At most 16 labels and 16 expressions of 16 values each. Default:
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::selector::bounded_schema")]
    pub selector: Option<LabelSelector>,
    /// With `selector`, instead of `namespace`: objects are looked for in every namespace
    /// whose labels this selector matches (an empty selector: every namespace). The requester
    /// must be allowed to `list` the kind in all namespaces. Same bounds as `selector`.
    /// Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::selector::bounded_schema")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespace of the object; at most 63 characters. Default: the namespace of the
    /// GitCommit or PullRequest (ignored for cluster-scoped kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// How the object becomes files: `dump`, `fields` or `single-field`. Default: `dump`.
    #[serde(default)]
    pub strategy: Strategy,
    /// For `single-field` only: a `data`/`binaryData` key, or a dotted path into the object such
    /// as `spec.replicas`; at most 1024 characters. Required with `single-field`, forbidden
    /// otherwise. No default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub field: Option<String>,
    /// Where the object is written. Required; no default.
    pub output: OutputSpec,
    /// When true, a missing object is skipped with a warning instead of failing the run.
    /// Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// Overrides `spec.writeMode` for this object's files. Default: `spec.writeMode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<WriteMode>,
}

/// What a reference exports: one object by name, or every object a selector matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target<'a> {
    Named(&'a str),
    Selected {
        selector: &'a LabelSelector,
        /// `namespaceSelector`: look in every namespace it matches, not in one.
        namespaces: Option<&'a LabelSelector>,
    },
}

impl ResourceReference {
    /// What the reference exports; `None` when it gives both or neither of `name` and
    /// `selector` (the CRD refuses both, so only an object stored around it gets here).
    pub fn target(&self) -> Option<Target<'_>> {
        match (&self.name, &self.selector) {
            (Some(name), None) => Some(Target::Named(name)),
            (None, Some(selector)) => Some(Target::Selected {
                selector,
                namespaces: self.namespace_selector.as_ref(),
            }),
            _ => None,
        }
    }

    /// The reference as messages name it: `"app-config"`, or `selector app=web`.
    pub fn describe(&self) -> String {
        match self.target() {
            Some(Target::Named(name)) => format!("{name:?}"),
            Some(Target::Selected { selector, .. }) => {
                format!("selector {}", crate::selector::describe(selector))
            }
            None => "with neither a name nor a selector".to_owned(),
        }
    }
}

/// What a GitCommit or PullRequest writes, and when. Shared by both kinds and flattened
/// into their specs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportSpec {
    /// Default write mode of `files` and `resourceReferences`: `overwrite` or `append` (YAML is
    /// appended as a new document after a `---` line). Default: the matching
    /// GitExportPolicy's `defaults.writeMode`, else `overwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<WriteMode>,
    /// Files with inline content; at most 1000 (and at most 1000 files and references
    /// together, or a policy's `limits.maxFiles`). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub files: Vec<FileSpec>,
    /// Live cluster objects to export; at most 1000 (and at most 1000 files and references
    /// together, or a policy's `limits.maxFiles`). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub resource_references: Vec<ResourceReference>,
    /// When true, nothing is reconciled (no schedule, no trigger) until it is set back to false.
    /// Default: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
    /// Optional cron schedule in UTC: five fields (`0 2 * * *`) or `@hourly`, `@daily`,
    /// `@weekly`, `@monthly`, `@yearly`; at most 256 characters. Default: none (run on change
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub schedule: Option<String>,
    /// ServiceAccount of this namespace whose permissions every read made for this object uses
    /// (discovery, the referenced objects, the auth and signing key Secrets): the controller
    /// impersonates it, so the apiserver enforces that account's RBAC. Default: the
    /// controller's `--default-service-account`; with neither, the controller's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub service_account_name: Option<String>,
    /// How many runs `status.history` keeps, newest first: 1 to 100. Default: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: Option<u32>,
}

impl ExportSpec {
    /// `writeMode`, or the built-in default `overwrite` where no default has been filled in.
    pub fn write_mode(&self) -> WriteMode {
        self.write_mode.unwrap_or_default()
    }

    /// `historyLimit`, or its default; held to 1..=100 whatever reached the controller.
    pub fn history_limit(&self) -> usize {
        self.history_limit
            .map_or(crate::status::DEFAULT_HISTORY_LIMIT, |limit| {
                usize::try_from(limit).unwrap_or(usize::MAX)
            })
            .clamp(1, crate::status::MAX_HISTORY_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::ExportSpec;

    #[test]
    fn the_history_limit_defaults_to_10_and_stays_within_1_to_100() {
        let limit = |history_limit| {
            ExportSpec {
                history_limit,
                ..ExportSpec::default()
            }
            .history_limit()
        };
        assert_eq!(limit(None), 10);
        assert_eq!(limit(Some(3)), 3);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(u32::MAX)), 100);
    }
}
