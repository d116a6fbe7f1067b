//! The CustomResourceDefinitions, generated from the Rust types. `crdgen` writes them to
//! `config/crd/bases/`; a test fails when the committed files are stale.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{GitCommit, GitExportPolicy, PullRequest};

/// Every CRD of the API, each with the file name it is committed under.
pub fn all() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("gco.galos.one_gitcommits.yaml", GitCommit::crd()),
        ("gco.galos.one_pullrequests.yaml", PullRequest::crd()),
        (
            "gco.galos.one_gitexportpolicies.yaml",
            GitExportPolicy::crd(),
        ),
    ]
}

/// A CRD as the YAML document that is committed.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    let body = serde_saphyr::to_string(crd)?;
    Ok(format!(
        "# Generated from the Rust types in api/ by `make crds`. Do not edit.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::rules::{BUILTIN_MAX_FILE_BYTES, BUILTIN_MAX_FILES};

    fn spec_schema(crd: &CustomResourceDefinition) -> Value {
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema");
        serde_json::to_value(schema).expect("serialisable")["properties"]["spec"].clone()
    }

    /// Every field a user writes has a size bound, so no spec costs more than its bounds say;
    /// `namespaceSelector` is Kubernetes' own LabelSelector type.
    fn unbounded(path: &str, schema: &Value, out: &mut Vec<String>) {
        if path.ends_with(".namespaceSelector") {
            return;
        }
        let has = |key: &str| schema.get(key).is_some();
        match schema["type"].as_str() {
            Some("string") if !has("maxLength") && !has("enum") => out.push(path.to_owned()),
            Some("integer") if !has("minimum") || !has("maximum") => out.push(path.to_owned()),
            Some("array") => {
                if !has("maxItems") {
                    out.push(path.to_owned());
                }
                unbounded(&format!("{path}[]"), &schema["items"], out);
            }
            _ => {}
        }
        for (name, field) in schema["properties"].as_object().into_iter().flatten() {
            unbounded(&format!("{path}.{name}"), field, out);
        }
    }

    #[test]
    fn every_spec_field_is_bounded() {
        let mut out = Vec::new();
        for (file, crd) in all() {
            unbounded(file, &spec_schema(&crd), &mut out);
        }
        assert!(out.is_empty(), "fields without a bound: {out:#?}");
    }

    #[test]
    fn schema_bounds_agree_with_the_built_in_ceilings() {
        let policy = spec_schema(&GitExportPolicy::crd());
        let limits = &policy["properties"]["limits"]["properties"];
        assert_eq!(limits["maxFiles"]["maximum"], BUILTIN_MAX_FILES as f64);
        assert_eq!(limits["maxFiles"]["format"], "uint32");
        assert_eq!(
            limits["maxFileBytes"]["maximum"],
            BUILTIN_MAX_FILE_BYTES as f64
        );
        assert_eq!(limits["maxFileBytes"]["format"], "uint32");
        let commit = spec_schema(&GitCommit::crd());
        let files = &commit["properties"]["files"];
        assert_eq!(files["maxItems"], BUILTIN_MAX_FILES);
        assert_eq!(
            files["items"]["properties"]["content"]["maxLength"],
            BUILTIN_MAX_FILE_BYTES
        );
    }
}
