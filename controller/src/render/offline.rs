//! `gco-controller render`: what a GitCommit or PullRequest would write, offline.
//!
//! It fills the defaults, judges the spec by the same rules (built in, and the policies given
//! with `--policy`: [`judge`]) and renders with exactly the code the controller runs, so it
//! refuses what the webhook and the controller refuse, with the same messages. Objects come
//! from manifest files instead of a cluster; with a repository it also shows the diff against
//! the branch tip. Nothing is pushed.

mod judge;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use gco_api::{GitExportPolicy, ResourceReference, Target, rules::Violations};
use jiff::Timestamp;
use kube::core::SelectorExt;
use serde_json::Value;

use crate::{
    git::{Credentials, GitError, RepoCache, diff_against_branch},
    render::{PlannedWrite, RenderError, render_owned},
};
use judge::Spec;
pub(crate) use judge::judge_rendered;
pub use judge::load_policies;

/// What to preview.
#[derive(Clone, Debug)]
pub struct PreviewRequest {
    /// The GitCommit or PullRequest manifest.
    pub spec_file: PathBuf,
    /// Files of GitExportPolicies that apply to it (all of them: offline there are no
    /// namespace labels to select by).
    pub policies: Vec<PathBuf>,
    /// Manifest files, or folders of `*.yaml` / `*.yml` / `*.json`, holding the referenced objects.
    pub objects: Vec<PathBuf>,
    /// A repository path or URL to diff against (anonymous access only).
    pub repo: Option<String>,
    /// The run's instant for placeholders.
    pub at: Timestamp,
    /// Where to cache the repository; a temporary folder if `None`.
    pub cache_dir: Option<PathBuf>,
}

/// Why a preview failed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a GitCommit or PullRequest: {reason}")]
    Spec { path: String, reason: String },
    #[error("refused, as the webhook and the controller refuse it: {0}")]
    Refused(Violations),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Renders the request into the text the subcommand prints.
pub fn preview(request: &PreviewRequest) -> Result<String, PreviewError> {
    let spec_path = request.spec_file.display().to_string();
    let manifest: Value = parse_documents(&request.spec_file)?
        .into_iter()
        .next()
        .ok_or_else(|| PreviewError::Spec {
            path: spec_path.clone(),
            reason: "the file is empty".into(),
        })?;
    let mut objects = Vec::new();
    for path in &request.objects {
        objects.extend(load_objects(path)?);
    }
    let policies = load_policies(&request.policies)?;
    let policies: Vec<&GitExportPolicy> = policies.iter().collect();
    let rendered = render_manifest(&manifest, &spec_path, &objects, &policies, request.at)?;
    let mut out = format_writes(&rendered.writes);
    if let Some(repo) = &request.repo {
        out.push('\n');
        out.push_str(&rendered.diff(repo, request.cache_dir.clone())?);
    }
    Ok(out)
}

/// What a manifest renders to, and the branch its writes go to.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The files, in the order the controller writes them.
    pub writes: Vec<PlannedWrite>,
    /// `spec.repository.url`.
    pub url: String,
    /// The branch a GitCommit commits to, or a PullRequest's base branch.
    pub branch: String,
}

impl Rendered {
    /// The patch the writes would make on the branch tip of `repo` (a path or URL, anonymous
    /// access), or a line saying there is nothing to commit. Blocking; nothing is pushed.
    pub fn diff(&self, repo: &str, cache_dir: Option<PathBuf>) -> Result<String, PreviewError> {
        let url = repository_url(repo);
        let temporary = tempfile_dir()?;
        let cache_dir = cache_dir.unwrap_or_else(|| temporary.path().to_path_buf());
        // Unbounded: a preview never deletes anything from a folder the user named.
        let cache = RepoCache::unbounded(cache_dir);
        Ok(diff_against_branch(
            &cache,
            &url,
            &Credentials::anonymous(),
            &self.branch,
            &self.writes,
        )?)
    }
}

/// Renders a GitCommit or PullRequest `manifest` (named `source` in errors) with the
/// referenced objects found among `objects`, at `at`: the defaults filled and the rules of
/// `policies` applied as the controller does, then the same rendering code.
pub fn render_manifest(
    manifest: &Value,
    source: &str,
    objects: &[Value],
    policies: &[&GitExportPolicy],
    at: Timestamp,
) -> Result<Rendered, PreviewError> {
    let spec_error = |reason: String| PreviewError::Spec {
        path: source.to_owned(),
        reason,
    };
    let kind = manifest
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec_value = manifest.get("spec").cloned().unwrap_or(Value::Null);
    let mut spec = Spec::parse(kind, spec_value).map_err(spec_error)?;
    let namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = manifest.pointer("/metadata/name").and_then(Value::as_str);
    spec.fill_defaults(namespace, name, policies);
    judge::judge(&spec.request(namespace, name), policies).map_err(PreviewError::Refused)?;
    let export = spec.export();
    let found: Vec<Vec<Value>> = export
        .resource_references
        .iter()
        .map(|reference| find_objects(objects, reference, namespace))
        .collect();
    let (writes, fields) = render_owned(export, &found, at)?;
    judge::judge_rendered(&writes, &fields, policies).map_err(PreviewError::Refused)?;
    Ok(Rendered {
        writes,
        url: spec.url().to_owned(),
        branch: spec.branch().to_owned(),
    })
}

/// The text `render` prints for `writes`: each file's path, mode, size and content.
pub fn format_writes(writes: &[PlannedWrite]) -> String {
    let mut out = String::new();
    for write in writes {
        out.push_str(&format!(
            "=== {} ({}, {} bytes)\n",
            write.path,
            write.mode,
            write.content.len()
        ));
        match std::str::from_utf8(&write.content) {
            Ok(text) => {
                out.push_str(text);
                if !text.is_empty() && !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            Err(_) => out.push_str("<binary content>\n"),
        }
    }
    if writes.is_empty() {
        out.push_str("(no files)\n");
    }
    out
}

/// The objects a reference names among `objects`: same apiVersion and kind, and the name or
/// the selector's labels; in the reference's namespace (default: the spec's) unless the object
/// has none (cluster-scoped). Offline, namespaces carry no labels: a `namespaceSelector`
/// takes every namespace given.
fn find_objects(objects: &[Value], reference: &ResourceReference, namespace: &str) -> Vec<Value> {
    let wanted_ns = reference.namespace.as_deref().unwrap_or(namespace);
    let selector = match reference.target() {
        Some(Target::Selected { selector, .. }) => match gco_api::selector::parse(selector) {
            Ok(selector) => Some(selector),
            Err(_) => return Vec::new(),
        },
        _ => None,
    };
    let any_namespace = reference.namespace_selector.is_some();
    let mut found: Vec<Value> = objects
        .iter()
        .filter(|o| {
            let text = |p: &str| o.pointer(p).and_then(Value::as_str);
            let same_kind = text("/apiVersion") == Some(reference.api_version.as_str())
                && text("/kind") == Some(reference.kind.as_str());
            let in_namespace =
                any_namespace || text("/metadata/namespace").is_none_or(|ns| ns == wanted_ns);
            let named = match &selector {
                Some(selector) => {
                    let labels: BTreeMap<String, String> = o
                        .pointer("/metadata/labels")
                        .cloned()
                        .and_then(|l| serde_json::from_value(l).ok())
                        .unwrap_or_default();
                    selector.matches(&labels)
                }
                None => text("/metadata/name") == reference.name.as_deref(),
            };
            same_kind && in_namespace && named
        })
        .cloned()
        .collect();
    if selector.is_none() {
        found.truncate(1);
    }
    found
}

/// Every object in a file or folder; `List` objects are unpacked.
pub fn load_objects(path: &Path) -> Result<Vec<Value>, PreviewError> {
    let read_error = |reason: String| PreviewError::Read {
        path: path.display().to_string(),
        reason,
    };
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| read_error(e.to_string()))?;
        for entry in entries {
            let file = entry.map_err(|e| read_error(e.to_string()))?.path();
            let manifest = file
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
            if manifest && file.is_file() {
                files.push(file);
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut objects = Vec::new();
    for file in files {
        for document in parse_documents(&file)? {
            match document.get("items").and_then(Value::as_array) {
                Some(items)
                    if document
                        .get("kind")
                        .and_then(Value::as_str)
                        .is_some_and(|k| k.ends_with("List")) =>
                {
                    objects.extend(items.iter().cloned());
                }
                _ => objects.push(document),
            }
        }
    }
    Ok(objects)
}

fn parse_documents(path: &Path) -> Result<Vec<Value>, PreviewError> {
    let read_error = |reason: String| PreviewError::Read {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&text).map_err(|e| read_error(e.to_string()))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// A local path becomes a `file://` URL; anything else is taken as a URL.
pub fn repository_url(repo: &str) -> String {
    let path = Path::new(repo);
    if !repo.contains("://") && path.exists() {
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        format!("file://{}", absolute.display())
    } else {
        repo.to_owned()
    }
}

fn tempfile_dir() -> Result<tempfile::TempDir, PreviewError> {
    tempfile::Builder::new()
        .prefix("gco-preview-")
        .tempdir()
        .map_err(|e| PreviewError::Read {
            path: "a temporary folder".into(),
            reason: e.to_string(),
        })
}
