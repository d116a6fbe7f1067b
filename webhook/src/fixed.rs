//! A fixed cluster view for unit tests, the benchmark and the fuzz target: given policies and
//! namespace labels, and a list of objects the user may not read.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use gco_api::{
    GitExportPolicy,
    rules::{AccessCheck, PolicySet},
};
use k8s_openapi::api::authentication::v1::UserInfo;

use crate::cluster::{Cluster, ClusterError};

/// A cluster that answers from memory.
#[derive(Clone, Debug, Default)]
pub struct FixedCluster {
    pub policies: Arc<PolicySet>,
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// `(kind, namespace, name)` the user may not `get`.
    pub forbidden: HashSet<(String, String, String)>,
    /// Kinds discovery does not know (every other kind is served).
    pub unknown_kinds: HashSet<String>,
}

impl FixedCluster {
    /// Adds a policy.
    pub fn with_policy(mut self, policy: GitExportPolicy) -> Self {
        Arc::make_mut(&mut self.policies).policies.push(policy);
        self
    }

    /// Forbids `get` of one object.
    pub fn forbid(mut self, kind: &str, namespace: &str, name: &str) -> Self {
        self.forbidden
            .insert((kind.to_owned(), namespace.to_owned(), name.to_owned()));
        self
    }
}

impl Cluster for FixedCluster {
    fn policies(&self) -> Result<Arc<PolicySet>, ClusterError> {
        Ok(self.policies.clone())
    }

    async fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        Ok(self.labels.get(namespace).cloned().unwrap_or_default())
    }

    async fn kind_served(
        &self,
        _group: &str,
        _version: &str,
        kind: &str,
    ) -> Result<bool, ClusterError> {
        Ok(!self.unknown_kinds.contains(kind))
    }

    async fn allowed(&self, _user: &UserInfo, check: &AccessCheck) -> Result<bool, ClusterError> {
        let key = (
            check.kind.clone(),
            check.namespace.clone(),
            check.name.clone(),
        );
        Ok(!self.forbidden.contains(&key))
    }
}
