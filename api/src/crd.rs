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
