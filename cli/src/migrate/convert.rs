//! The conversion itself, pure: one manifest of the original Go operator (1.2.x GitCommit or
//! PullRequest) into this operator's `gco.galos.one/v1`, and the list of what has no
//! equivalent. Field by field, as docs/cli.md (`migrate`) tabulates it.

use serde_json::{Map, Value, json};

/// The group of this API; the original used it too (and `git.galos.one` in early examples).
const API_VERSION: &str = "gco.galos.one/v1";
const OLD_API_VERSIONS: &[&str] = &["gco.galos.one/v1", "git.galos.one/v1"];

/// What became of one manifest.
#[derive(Debug, PartialEq)]
pub enum Converted {
    /// Converted; `notes` list what was dropped or needs a hand.
    Object { object: Value, notes: Vec<String> },
    /// Already this API's shape (converted before, or read from this operator's CRDs): the
    /// spec left as is, without status and what the apiserver set in metadata.
    Current(Value),
    /// Not one of the original's kinds: passed through unchanged.
    Other(Value),
    /// Cannot be converted without losing something that matters (why).
    Refused(String),
}

/// Converts one manifest (a `List`'s items are converted by the caller).
pub fn convert(manifest: &Value) -> Converted {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let version = manifest["apiVersion"].as_str().unwrap_or_default();
    if !OLD_API_VERSIONS.contains(&version) || !matches!(kind, "GitCommit" | "PullRequest") {
        return Converted::Other(manifest.clone());
    }
    let spec = &manifest["spec"];
    match &spec["repository"] {
        // Already this API's shape (repository is an object here, a string there).
        Value::Object(_) => {
            return Converted::Current(json!({
                "apiVersion": version,
                "kind": kind,
                "metadata": metadata(&manifest["metadata"]),
                "spec": spec,
            }));
        }
        Value::String(url) if !url.is_empty() => {}
        _ => {
            return Converted::Refused(
                "spec.repository is neither a URL (the original operator's shape) nor an object \
                 (this API's): not a GitCommit or PullRequest either operator wrote; convert it \
                 by hand"
                    .into(),
            );
        }
    }
    if spec["encryption"]["enabled"] == true {
        return Converted::Refused(
            "spec.encryption is enabled, and this operator does not encrypt files: converted, \
             it would push them in clear text. Keep it on the old operator, or export only what \
             may be public (single-field references of allowed keys) and convert it by hand"
                .into(),
        );
    }
    let pull_request = kind == "PullRequest";
    let mut notes = Vec::new();
    let mut out = Map::new();
    out.insert(
        "repository".into(),
        repository(spec, pull_request, &mut notes),
    );
    if pull_request {
        let mut pr = Map::new();
        copy(spec, "title", &mut pr, "title");
        copy(spec, "body", &mut pr, "body");
        copy(spec, "headBranch", &mut pr, "headBranch");
        out.insert("pullRequest".into(), Value::Object(pr));
    } else if let Some(message) = spec["commitMessage"].as_str() {
        out.insert("commit".into(), json!({ "message": message }));
    }
    auth(spec, &mut out, &mut notes);
    if let Some(files) = files(spec, &mut notes) {
        out.insert("files".into(), files);
    }
    if let Some(references) = references(spec, pull_request, &mut notes) {
        out.insert("resourceReferences".into(), references);
    }
    schedule(spec, &mut out, &mut notes);
    if spec["suspend"] == true {
        out.insert("suspend".into(), Value::Bool(true));
    }
    if let Some(limit) = spec["maxExecutionHistory"].as_u64() {
        out.insert("historyLimit".into(), limit.into());
    }
    ttl(spec, pull_request, &mut out, &mut notes);
    for field in ["restAPI", "restAPIs"] {
        if !spec[field].is_null() {
            notes.push(format!(
                "spec.{field} dropped: this operator calls no REST APIs; export the data from an \
                 object the cluster holds (a ConfigMap a job writes), or keep it on the old operator"
            ));
        }
    }
    if spec["encryption"].is_object() {
        notes.push("spec.encryption (disabled) dropped".into());
    }
    let object = json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata(&manifest["metadata"]),
        "spec": Value::Object(out),
    });
    Converted::Object { object, notes }
}

fn copy(from: &Value, key: &str, to: &mut Map<String, Value>, as_key: &str) {
    if let Some(value) = from.get(key).filter(|v| !v.is_null()) {
        to.insert(as_key.into(), value.clone());
    }
}

/// Name, namespace, labels and annotations; what the apiserver set (`resourceVersion`, `uid`,
/// `creationTimestamp`, `generation`, `managedFields`, …) and kubectl's last-applied annotation
/// are left behind, so the result applies to a cluster where the object does not exist yet.
fn metadata(old: &Value) -> Value {
    let mut out = Map::new();
    for key in ["name", "namespace", "labels"] {
        copy(old, key, &mut out, key);
    }
    if let Some(annotations) = old["annotations"].as_object() {
        let kept: Map<String, Value> = annotations
            .iter()
            .filter(|(k, _)| *k != "kubectl.kubernetes.io/last-applied-configuration")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert("annotations".into(), Value::Object(kept));
        }
    }
    Value::Object(out)
}

fn repository(spec: &Value, pull_request: bool, notes: &mut Vec<String>) -> Value {
    let url = spec["repository"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("url".into(), url.into());
    if pull_request {
        copy(spec, "baseBranch", &mut out, "baseBranch");
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', ':']).next())
            .unwrap_or_default();
        if host != "github.com" && host != "gitlab.com" {
            notes.push(format!(
                "spec.repository.provider: set it to github, gitlab or gitea for {host:?} (the old \
                 operator spoke only GitHub's API, so github is the likely value)"
            ));
        }
    } else {
        copy(spec, "branch", &mut out, "branch");
    }
    Value::Object(out)
}

fn auth(spec: &Value, out: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let Some(secret) = spec["authSecretRef"].as_str().filter(|s| !s.is_empty()) else {
        return;
    };
    out.insert("auth".into(), json!({ "secretName": secret }));
    let key = spec["authSecretKey"].as_str().unwrap_or("token");
    if key != "token" {
        notes.push(format!(
            "spec.authSecretKey {key:?}: this operator reads the token from the key `token` of \
             Secret {secret:?}; add that key (the value of {key:?}) to the Secret"
        ));
    }
}

fn files(spec: &Value, notes: &mut Vec<String>) -> Option<Value> {
    let files = spec["files"].as_array()?;
    let mut out = Vec::new();
    for (i, file) in files.iter().enumerate() {
        if file["useRestAPIData"] == true {
            notes.push(format!(
                "spec.files[{i}] ({}) dropped: its content was REST API data",
                file["path"].as_str().unwrap_or_default()
            ));
            continue;
        }
        let mut converted = Map::new();
        for key in ["path", "content", "writeMode"] {
            copy(file, key, &mut converted, key);
        }
        out.push(Value::Object(converted));
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

fn references(spec: &Value, pull_request: bool, notes: &mut Vec<String>) -> Option<Value> {
    let references = spec["resourceRefs"].as_array()?;
    let mut out = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        // 1.2.x calls it `strategy`; the issue that asked for this tool says `output`.
        let strategy = match &reference["strategy"] {
            Value::Object(_) => &reference["strategy"],
            _ => &reference["output"],
        };
        let kind = strategy["type"].as_str().unwrap_or("dump");
        // The old PullRequest named an empty path `<kind>-<name>`.
        let default_path = format!(
            "{}-{}",
            reference["kind"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase(),
            reference["name"].as_str().unwrap_or_default()
        );
        let path = match strategy["path"].as_str().unwrap_or_default() {
            "" if pull_request => default_path.as_str(),
            path => path,
        };
        let append = strategy["writeMode"] == "append";
        let mut converted = Map::new();
        for key in ["apiVersion", "kind", "name", "namespace"] {
            copy(reference, key, &mut converted, key);
        }
        let output = match kind {
            "fields" => format!("{}/", path.trim_end_matches('/')),
            "single-field" => {
                let Some(key) = strategy["fieldRef"]["key"].as_str() else {
                    notes.push(format!(
                        "spec.resourceRefs[{i}] dropped: single-field without fieldRef.key"
                    ));
                    continue;
                };
                converted.insert("field".into(), key.into());
                single_field_path(strategy, path, key, pull_request, append)
            }
            // The old PullRequest appended `.yaml` to a dump's path.
            _ if pull_request => format!("{path}.yaml"),
            _ => path.to_owned(),
        };
        converted.insert("strategy".into(), kind.into());
        converted.insert("output".into(), json!({ "path": output }));
        if append {
            converted.insert("writeMode".into(), "append".into());
        }
        if reference["kind"] == "Secret" {
            notes.push(match kind {
                "single-field" => format!(
                    "spec.resourceRefs[{i}]: a Secret key is exported only when a \
                     GitExportPolicy allows it in spec.secrets.allowedFields (docs/policy.md)"
                ),
                _ => format!(
                    "spec.resourceRefs[{i}]: this operator refuses to export a whole Secret \
                     ({kind}); export single fields of keys a GitExportPolicy allows \
                     (docs/security.md)"
                ),
            });
        }
        out.push(Value::Object(converted));
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// Where the old operator wrote a single field: a GitCommit wrote `path/<fileName or key>`
/// (or `path` itself when appending), a PullRequest `path` (or `fileName` next to it).
fn single_field_path(
    strategy: &Value,
    path: &str,
    key: &str,
    pull_request: bool,
    append: bool,
) -> String {
    let file_name = strategy["fieldRef"]["fileName"]
        .as_str()
        .filter(|f| !f.is_empty());
    if pull_request {
        return match (file_name, path.rsplit_once('/')) {
            (Some(name), Some((dir, _))) => format!("{dir}/{name}"),
            (Some(name), None) => name.to_owned(),
            (None, _) => path.to_owned(),
        };
    }
    if append {
        return path.to_owned();
    }
    format!(
        "{}/{}",
        path.trim_end_matches('/'),
        file_name.unwrap_or(key)
    )
}

fn schedule(spec: &Value, out: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let Some(schedule) = spec["schedule"].as_str().filter(|s| !s.is_empty()) else {
        return;
    };
    match schedule {
        "@annually" => {
            out.insert("schedule".into(), "@yearly".into());
        }
        s if s.starts_with("@every") => notes.push(format!(
            "spec.schedule {s:?} dropped: write it as a cron expression (every 15 minutes: \
             \"*/15 * * * *\")"
        )),
        s => {
            out.insert("schedule".into(), s.into());
        }
    }
}

fn ttl(spec: &Value, pull_request: bool, out: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let Some(minutes) = spec["ttlMinutes"].as_u64() else {
        return;
    };
    if pull_request {
        notes.push(
            "spec.ttlMinutes dropped: a PullRequest is kept until deleted (delete it once the \
             pull request is merged)"
                .into(),
        );
        return;
    }
    if out.contains_key("schedule") {
        notes.push(
            "spec.ttlMinutes dropped: a scheduled object is never deleted (as the old operator did)"
                .into(),
        );
        return;
    }
    out.insert("ttlSecondsAfterFinished".into(), (minutes * 60).into());
    notes.push(format!(
        "spec.ttlMinutes {minutes} became ttlSecondsAfterFinished {}: counted from the last \
         successful run, not from creation as the old operator counted",
        minutes * 60
    ));
}
