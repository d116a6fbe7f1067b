//! `/mutate`: the defaults of [`gco_api::rules::defaults`] as JSON patch `add` operations, one
//! per field the object leaves out, and paths in their normal form
//! ([`gco_api::rules::normalise_path`]). Only absent fields are filled and normal paths stay
//! as they are, so mutating twice patches nothing the second time.

use gco_api::{
    GitExportPolicy,
    rules::{self, ExportKind},
};
use serde_json::{Value, json};

use crate::spec::AdmittedSpec;

/// JSON patch operations, collected in order.
#[derive(Default)]
struct Ops(Vec<Value>);

impl Ops {
    fn add(&mut self, path: String, value: Value) {
        self.0
            .push(json!({"op": "add", "path": path, "value": value}));
    }

    /// Replaces the path at `pointer` with its normal form, if it is not normal.
    fn normalise(&mut self, pointer: String, path: Option<&str>) {
        if let Some(path) = path {
            let normal = rules::normalise_path(path);
            if normal != path {
                self.0
                    .push(json!({"op": "replace", "path": pointer, "value": normal}));
            }
        }
    }
}

/// The patch that fills the defaults of `object` (a GitCommit or PullRequest in `namespace`),
/// or `None` when nothing is missing.
pub fn defaults_patch(
    kind: ExportKind,
    namespace: &str,
    object: &Value,
    policies: &[&GitExportPolicy],
) -> Result<Option<json_patch::Patch>, String> {
    let typed = AdmittedSpec::read(kind, object)?;
    let defaults = rules::defaults(&typed.request(namespace, object), policies);
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let mut ops = Ops::default();

    let repository = spec.get("repository");
    let branch_key = match kind {
        ExportKind::GitCommit => "branch",
        ExportKind::PullRequest => "baseBranch",
    };
    if repository.is_some_and(|r| r.get(branch_key).is_none()) {
        ops.add(
            format!("/spec/repository/{branch_key}"),
            json!(defaults.branch),
        );
    }
    if spec.get("writeMode").is_none() {
        ops.add("/spec/writeMode".into(), json!(defaults.write_mode));
    }
    match spec.get("commit") {
        None | Some(Value::Null) => ops.add(
            "/spec/commit".into(),
            json!({"author": defaults.author, "message": defaults.message}),
        ),
        Some(commit) => {
            if commit.get("author").is_none() {
                ops.add("/spec/commit/author".into(), json!(defaults.author));
            }
            if commit.get("message").is_none() {
                ops.add("/spec/commit/message".into(), json!(defaults.message));
            }
        }
    }
    let files = spec.get("files").and_then(Value::as_array);
    for (index, file) in files.into_iter().flatten().enumerate() {
        let path = file.get("path").and_then(Value::as_str);
        ops.normalise(format!("/spec/files/{index}/path"), path);
    }
    let references = spec.get("resourceReferences").and_then(Value::as_array);
    for (index, reference) in references.into_iter().flatten().enumerate() {
        let path = reference.pointer("/output/path").and_then(Value::as_str);
        ops.normalise(
            format!("/spec/resourceReferences/{index}/output/path"),
            path,
        );
        // A namespaceSelector looks in many namespaces: it takes no namespace.
        if reference.get("namespace").is_none() && reference.get("namespaceSelector").is_none() {
            ops.add(
                format!("/spec/resourceReferences/{index}/namespace"),
                json!(defaults.reference_namespace),
            );
        }
        if reference.get("strategy").is_none() {
            ops.add(
                format!("/spec/resourceReferences/{index}/strategy"),
                json!("dump"),
            );
        }
    }
    if kind == ExportKind::PullRequest {
        let pull_request = spec.get("pullRequest");
        if pull_request.is_some_and(|p| p.get("branchPrefix").is_none()) {
            ops.add(
                "/spec/pullRequest/branchPrefix".into(),
                json!(defaults.branch_prefix),
            );
        }
        if let Some(provider) = defaults.provider
            && repository.is_some_and(|r| r.get("provider").is_none())
        {
            ops.add("/spec/repository/provider".into(), json!(provider));
        }
    }
    if ops.0.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(Value::Array(ops.0))
        .map(Some)
        .map_err(|error| format!("cannot build the defaults patch: {error}"))
}
