//! The API reference (`docs/api.md`), generated from the CRDs' schemas so it cannot drift from
//! what `kubectl explain` shows. `make crds` writes it; a test fails when it is stale.

use std::fmt::Write as _;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

/// The whole reference page for `crds`.
pub fn markdown(crds: &[CustomResourceDefinition]) -> String {
    let mut page = String::from(
        "# API reference: gco.galos.one/v1\n\n\
         Generated from the CRD schemas by `make crds`; do not edit. The same text is what \
         `kubectl explain` prints.\n",
    );
    for crd in crds {
        let names = &crd.spec.names;
        let Some(version) = crd.spec.versions.first() else {
            continue;
        };
        let schema = version
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null);
        let _ = write!(
            page,
            "\n## {kind}\n\n{description}\n\n`{group}/{version}`, {scope}; short name `{short}`.\n",
            kind = names.kind,
            description = one_line(schema["description"].as_str().unwrap_or_default()),
            group = crd.spec.group,
            version = version.name,
            scope = crd.spec.scope.to_lowercase(),
            short = names
                .short_names
                .as_deref()
                .unwrap_or_default()
                .join("`, `"),
        );
        for part in ["spec", "status"] {
            let Some(root) = schema["properties"].get(part) else {
                continue;
            };
            let _ = write!(
                page,
                "\n### {kind} `.{part}`\n\n| Field | Type | Description |\n| --- | --- | --- |\n",
                kind = names.kind
            );
            fields(&mut page, part, root);
        }
    }
    page
}

/// One row per field under `schema`, depth first, in the schema's (alphabetical) order.
fn fields(page: &mut String, path: &str, schema: &Value) {
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in properties {
        let field_path = format!("{path}.{name}");
        let mut kind = type_of(field);
        if required.contains(&name.as_str()) {
            kind.push_str(", required");
        }
        let _ = writeln!(
            page,
            "| `{field_path}` | {kind} | {} |",
            one_line(field["description"].as_str().unwrap_or_default())
        );
        match field["type"].as_str() {
            Some("array") => fields(page, &format!("{field_path}[]"), &field["items"]),
            _ => fields(page, &field_path, field),
        }
    }
}

fn type_of(field: &Value) -> String {
    let base = match field["type"].as_str() {
        Some("array") => format!("[]{}", field["items"]["type"].as_str().unwrap_or("object")),
        Some(other) => other.to_owned(),
        None => "any".to_owned(),
    };
    match field["enum"].as_array() {
        Some(values) => {
            let values: Vec<String> = values
                .iter()
                .filter_map(Value::as_str)
                .map(|v| format!("`{v}`"))
                .collect();
            format!("{base} ({})", values.join(", "))
        }
        None => base,
    }
}

/// A description as one table cell: newlines joined, pipes escaped.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_every_kind_has_a_row_with_its_doc() {
        let crds: Vec<_> = crate::crd::all().into_iter().map(|(_, c)| c).collect();
        let page = markdown(&crds);
        for expected in [
            "## GitCommit",
            "## PullRequest",
            "## GitExportPolicy",
            "| `spec.repository.branch` | string | Branch to commit to",
            "| `spec.resourceReferences[].strategy` | string (`dump`, `fields`, `single-field`) |",
            "| `spec.pullRequest.title` | string, required |",
            "| `spec.requireRequesterAccess` | boolean |",
            "| `status.conditions` |",
        ] {
            assert!(page.contains(expected), "missing {expected:?} in:\n{page}");
        }
    }
}
