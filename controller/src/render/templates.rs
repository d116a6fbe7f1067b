//! Which of a spec's path templates could have written a file: how `kubectl gco trace` tells
//! apart the objects of a commit that coalesced several runs, and how a pruning object whose
//! inventory was lost recognises its files on the branch (`git/recover.rs`). Pure.
//!
//! A template matches the way the renderer expands it (controller/src/render/mod.rs): a
//! `$( … )` placeholder stands for any text, a `dump` path ending in `/` for the folder of
//! `<name>.yaml`, a `fields` path for the folder of one file per key, and a selector's path for
//! anything below it.

use gco_api::{ExportSpec, Strategy, Target};

/// Whether any path `spec` writes could be `path`.
pub fn could_write(spec: &ExportSpec, path: &str) -> bool {
    let files = spec.files.iter().map(|f| matches(&f.path, path));
    let references = spec.resource_references.iter().map(|r| {
        let template = r.output.path.as_str();
        let Some(Target::Named(name)) = r.target() else {
            // A selector writes anything under its folder.
            return under(template.trim_end_matches('/'), path);
        };
        match r.strategy {
            Strategy::Dump => match template.strip_suffix('/') {
                Some(folder) => matches(&format!("{folder}/{name}.yaml"), path),
                None => matches(template, path),
            },
            Strategy::Fields => in_folder(template.trim_end_matches('/'), path),
            Strategy::SingleField => matches(template, path),
        }
    });
    files.chain(references).any(|m| m)
}

/// Whether `path` is anywhere below the folder `template` expands to.
fn under(template: &str, path: &str) -> bool {
    let mut folder = path;
    while let Some((parent, _)) = folder.rsplit_once('/') {
        if matches(template, parent) {
            return true;
        }
        folder = parent;
    }
    false
}

/// Whether `path` is one file directly in the folder `template` expands to.
fn in_folder(template: &str, path: &str) -> bool {
    path.rsplit_once('/')
        .is_some_and(|(folder, file)| !file.is_empty() && matches(template, folder))
}

/// Whether `template`, with each placeholder standing for any text, can expand to `path`.
fn matches(template: &str, path: &str) -> bool {
    let pieces = split(template);
    let Some((first, rest)) = pieces.split_first() else {
        return path.is_empty();
    };
    let Some(mut remaining) = path.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    // Between placeholders, each literal piece is taken at its first occurrence: the
    // leftmost choice leaves the most text for the pieces after it.
    for piece in middle {
        match remaining.find(piece.as_str()) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last.as_str())
}

/// The literal pieces of `template` around its `$( … )` placeholders: one more piece than
/// placeholders, empty pieces included.
fn split(template: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut rest = template;
    while let Some(start) = rest.find("$(") {
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        if let Some(piece) = pieces.last_mut() {
            piece.push_str(&rest[..start]);
        }
        pieces.push(String::new());
        rest = &rest[start + end + 1..];
    }
    if let Some(piece) = pieces.last_mut() {
        piece.push_str(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> ExportSpec {
        serde_json::from_value(value).expect("a spec")
    }

    #[test]
    fn placeholders_stand_for_any_text() {
        assert!(matches(
            "backups/$(date +%Y%m%d)/app.yaml",
            "backups/20260102/app.yaml"
        ));
        assert!(matches("a-$(date)-b-$(date +%H)", "a-x-b-12"));
        assert!(!matches(
            "backups/$(date +%Y%m%d)/app.yaml",
            "backups/20260102/db.yaml"
        ));
        assert!(matches("plain.txt", "plain.txt"));
        assert!(!matches("plain.txt", "plain.txt.bak"));
        assert!(!matches("x$(date)", "y1"));
    }

    #[test]
    fn each_strategy_claims_its_own_files() {
        let spec = spec(json!({
            "files": [{ "path": "info-$(date +%Y).txt", "content": "x" }],
            "resourceReferences": [
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "a", "strategy": "fields", "output": { "path": "apps/a/" } },
                { "apiVersion": "v1", "kind": "ConfigMap", "name": "b", "output": { "path": "dumps/" } },
                { "apiVersion": "v1", "kind": "Secret", "name": "c", "strategy": "single-field", "field": "tls.crt",
                  "output": { "path": "certs/c.crt" } },
            ]
        }));
        for path in ["info-2026.txt", "apps/a/key", "dumps/b.yaml", "certs/c.crt"] {
            assert!(could_write(&spec, path), "{path}");
        }
        for path in [
            "apps/a/deeper/key",
            "dumps/c.yaml",
            "apps/b/key",
            "other.txt",
        ] {
            assert!(!could_write(&spec, path), "{path}");
        }
    }

    #[test]
    fn a_selector_claims_anything_below_its_folder() {
        let spec = spec(json!({
            "resourceReferences": [
                { "apiVersion": "v1", "kind": "ConfigMap", "selector": {}, "output": { "path": "all/" } },
            ]
        }));
        for path in ["all/a.yaml", "all/team/b.yaml", "all/c/key"] {
            assert!(could_write(&spec, path), "{path}");
        }
        for path in ["all", "allx/a.yaml", "other/all/a.yaml"] {
            assert!(!could_write(&spec, path), "{path}");
        }
    }
}
