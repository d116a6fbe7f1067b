//! Reading the objects a spec references, of any kind, through the dynamic API.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use gco_api::ResourceReference;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject},
    core::GroupVersionKind,
    discovery::{self, ApiCapabilities, Scope},
};
use serde_json::Value;

use crate::watches::ReferenceWatches;

/// How long a "no such kind" answer is believed: a CRD may be installed a moment later.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// A referenced kind, resolved by discovery.
#[derive(Clone, Debug)]
pub struct ResolvedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Why a referenced object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "{field}: the cluster serves no kind {kind} in {api_version}: check apiVersion and kind, \
         or install the CRD that defines it"
    )]
    UnknownKind {
        field: String,
        api_version: String,
        kind: String,
    },
    #[error("{field}: cannot read {kind} {name}: {source}")]
    Read {
        field: String,
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// Resolves kinds through discovery, remembering answers.
#[derive(Default)]
pub struct KindResolver {
    known: Mutex<HashMap<GroupVersionKind, (Option<ResolvedKind>, Instant)>>,
}

impl KindResolver {
    pub async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<Option<ResolvedKind>, kube::Error> {
        if let Some((answer, at)) = self.lock().get(gvk)
            && (answer.is_some() || at.elapsed() < NEGATIVE_TTL)
        {
            return Ok(answer.clone());
        }
        let answer = match discovery::pinned_kind(client, gvk).await {
            Ok((resource, ApiCapabilities { scope, .. })) => Some(ResolvedKind {
                resource,
                namespaced: scope == Scope::Namespaced,
            }),
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(other) => return Err(other),
        };
        self.lock()
            .insert(gvk.clone(), (answer.clone(), Instant::now()));
        Ok(answer)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<GroupVersionKind, (Option<ResolvedKind>, Instant)>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep using it.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The identity of a referenced object: what the watch index is keyed by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// `<namespace>/<kind>/<name>` (with `<group>` in front of the kind for non-core groups).
    pub fn display(&self) -> String {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        format!("{}/{kind}/{}", self.namespace, self.name)
    }
}

/// One reference, read: its key, resolved kind and the live object (None when missing).
#[derive(Clone, Debug)]
pub struct ReadReference {
    pub key: ObjectKey,
    pub kind: ResolvedKind,
    pub object: Option<Value>,
    pub resource_version: Option<String>,
}

/// The GroupVersionKind of a reference (`apiVersion: apps/v1` → group `apps`, version `v1`).
pub fn gvk_of(reference: &ResourceReference) -> GroupVersionKind {
    let (group, version) = match reference.api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", reference.api_version.as_str()),
    };
    GroupVersionKind::gvk(group, version, &reference.kind)
}

/// Reads every reference of a spec, in order. `default_namespace` is the exporting object's.
pub async fn read_all(
    client: &Client,
    resolver: &KindResolver,
    cache: &ReferenceWatches,
    references: &[ResourceReference],
    default_namespace: &str,
) -> Result<Vec<ReadReference>, ReferenceError> {
    let mut read = Vec::with_capacity(references.len());
    for (index, reference) in references.iter().enumerate() {
        let field = format!("spec.resourceReferences[{index}]");
        let gvk = gvk_of(reference);
        let read_error = |source| ReferenceError::Read {
            field: field.clone(),
            kind: reference.kind.clone(),
            name: reference.name.clone(),
            source,
        };
        let kind = resolver
            .resolve(client, &gvk)
            .await
            .map_err(read_error)?
            .ok_or_else(|| ReferenceError::UnknownKind {
                field: field.clone(),
                api_version: reference.api_version.clone(),
                kind: reference.kind.clone(),
            })?;
        let namespace = if kind.namespaced {
            reference.namespace.as_deref().unwrap_or(default_namespace)
        } else {
            ""
        };
        let key = ObjectKey {
            group: gvk.group.clone(),
            kind: gvk.kind.clone(),
            namespace: namespace.to_owned(),
            name: reference.name.clone(),
        };
        let object = match cache.cached(&key, &kind.resource) {
            Some(cached) => cached.map(|o| (*o).clone()),
            None => {
                let api: Api<DynamicObject> = if kind.namespaced {
                    Api::namespaced_with(client.clone(), namespace, &kind.resource)
                } else {
                    Api::all_with(client.clone(), &kind.resource)
                };
                api.get_opt(&reference.name).await.map_err(read_error)?
            }
        };
        let resource_version = object
            .as_ref()
            .and_then(|o| o.metadata.resource_version.clone());
        let object = object
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| read_error(kube::Error::SerdeError(e)))?;
        read.push(ReadReference {
            key,
            kind,
            object,
            resource_version,
        });
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_into_group_and_version() {
        let mut r = ResourceReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            ..Default::default()
        };
        let gvk = gvk_of(&r);
        assert_eq!((gvk.group.as_str(), gvk.version.as_str()), ("apps", "v1"));
        r.api_version = "v1".into();
        let gvk = gvk_of(&r);
        assert_eq!((gvk.group.as_str(), gvk.version.as_str()), ("", "v1"));
    }

    #[test]
    fn keys_display_as_trailer_values() {
        let key = ObjectKey {
            group: "monitoring.coreos.com".into(),
            kind: "PrometheusRule".into(),
            namespace: "monitoring".into(),
            name: "app-rules".into(),
        };
        assert_eq!(
            key.display(),
            "monitoring/PrometheusRule.monitoring.coreos.com/app-rules"
        );
    }
}
