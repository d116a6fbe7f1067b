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
