//! Fixtures shared by the tests: the examples of the seed documentation, copied unchanged.

use std::fs;

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::workspace_root;

/// One example of `../shared/seeds/advanced-scenarios.md`.
#[derive(Clone, Debug)]
pub struct Seed {
    /// `metadata.name`.
    pub name: String,
    /// `GitCommit` or `PullRequest`.
    pub kind: String,
    /// The YAML exactly as documented.
    pub yaml: String,
    /// The same document as JSON.
    pub value: Value,
}

impl Seed {
    /// `metadata.namespace`, when the example names one (most leave it to `kubectl -n`).
    pub fn namespace(&self) -> Option<&str> {
        self.value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
    }
}

/// Every seed example, sorted by name.
pub fn seeds() -> Result<Vec<Seed>> {
    let dir = workspace_root().join("tests/fixtures/seeds");
    let mut seeds = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        let yaml = fs::read_to_string(&path)?;
        let value: Value =
            serde_saphyr::from_str(&yaml).with_context(|| format!("parse {}", path.display()))?;
        let field = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        seeds.push(Seed {
            name: field("/metadata/name").context("seed without metadata.name")?,
            kind: field("/kind").context("seed without kind")?,
            yaml,
            value,
        });
    }
    seeds.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(seeds)
}

/// The Prometheus operator's kinds the examples export (PrometheusRule, ServiceMonitor), as
/// CRDs that accept any spec, installed and established: the webhook refuses references to
/// kinds the cluster does not serve.
pub async fn install_monitoring_crds(client: &kube::Client) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::{
        Api,
        api::{Patch, PatchParams},
        runtime::{conditions::is_crd_established, wait::await_condition},
    };
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (kind, plural) in [
        ("PrometheusRule", "prometheusrules"),
        ("ServiceMonitor", "servicemonitors"),
    ] {
        let name = format!("{plural}.monitoring.coreos.com");
        let crd = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": name },
            "spec": {
                "group": "monitoring.coreos.com", "scope": "Namespaced",
                "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase() },
                "versions": [{ "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }]
            }
        });
        crds.patch(
            &name,
            &PatchParams::apply(crate::testenv::TEST_MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await
        .with_context(|| format!("install {name}"))?;
        let established = await_condition(crds.clone(), &name, is_crd_established());
        tokio::time::timeout(std::time::Duration::from_secs(30), established)
            .await
            .with_context(|| format!("{name} established"))??;
    }
    Ok(())
}
