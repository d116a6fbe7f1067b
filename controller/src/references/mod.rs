//! The objects a spec references: read them (any kind, resolved by discovery), and watch them
//! so a change triggers the objects that reference it.
//!
//! [`References::read`] reads *and* records what an owner references, so no caller can forget
//! to start the watch that keeps the next read current.

mod identity;
mod kinds;
mod watches;

use std::collections::HashMap;

use gco_api::{ExportKind, ResourceReference, split_api_version};
use kube::{Api, Client, api::DynamicObject, core::GroupVersionKind};
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;
use tokio::sync::mpsc;

pub use identity::{Identity, Reader, Readers, forbidden};
pub use kinds::{KindResolver, ResolvedKind};
pub use watches::Owner;
use watches::ReferenceWatches;

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
    #[error(
        "{field}: {identity} may not read {kind} {name:?} ({detail}): grant it `get` on that \
         object (a Role and RoleBinding in its namespace), or reference an object it may read"
    )]
    Forbidden {
        field: String,
        kind: String,
        name: String,
        identity: Identity,
        detail: String,
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
fn gvk_of(reference: &ResourceReference) -> GroupVersionKind {
    let (group, version) = split_api_version(&reference.api_version);
    GroupVersionKind::gvk(group, version, &reference.kind)
}

/// Reads references and keeps them watched. Cheap to share.
pub struct References {
    kinds: KindResolver,
    watches: ReferenceWatches,
}

impl References {
    /// The reader and, per exporting kind, the stream of owners whose references changed.
    /// Referenced Secrets are looked at every `secret_poll`.
    pub fn new(
        client: Client,
        referenced: Gauge,
        secret_poll: std::time::Duration,
    ) -> (Self, HashMap<ExportKind, mpsc::UnboundedReceiver<Owner>>) {
        let (watches, triggers) = ReferenceWatches::new(client, referenced, secret_poll);
        let references = Self {
            kinds: KindResolver::default(),
            watches,
        };
        (references, triggers)
    }

    /// Reads every reference of `owner`'s spec, in order (the owner's namespace is the default
    /// namespace), and from then on triggers `owner` when one of them changes.
    ///
    /// An impersonating `reader` reads every object from the apiserver, never from the watch
    /// caches (which hold what the controller may read), so the apiserver judges each read.
    pub async fn read(
        &self,
        reader: &Reader,
        owner: &Owner,
        references: &[ResourceReference],
    ) -> Result<Vec<ReadReference>, ReferenceError> {
        let mut read = Vec::with_capacity(references.len());
        for (index, reference) in references.iter().enumerate() {
            read.push(
                self.read_one(reader, index, reference, &owner.namespace)
                    .await?,
            );
        }
        self.watches.track(owner, &read);
        Ok(read)
    }

    /// Stops triggering a deleted owner.
    pub fn forget(&self, owner: &Owner) {
        self.watches.forget(owner);
    }

    async fn read_one(
        &self,
        reader: &Reader,
        index: usize,
        reference: &ResourceReference,
        default_namespace: &str,
    ) -> Result<ReadReference, ReferenceError> {
        let field = format!("spec.resourceReferences[{index}]");
        let gvk = gvk_of(reference);
        let read_error = |source: kube::Error| {
            if let Some(detail) = forbidden(&source) {
                return ReferenceError::Forbidden {
                    field: field.clone(),
                    kind: reference.kind.clone(),
                    name: reference.name.clone(),
                    identity: reader.identity.clone(),
                    detail,
                };
            }
            ReferenceError::Read {
                field: field.clone(),
                kind: reference.kind.clone(),
                name: reference.name.clone(),
                source,
            }
        };
        let client = &reader.client;
        let kind = self
            .kinds
            .resolve(client, &gvk)
            .await
            .map_err(read_error)?
            .ok_or_else(|| ReferenceError::UnknownKind {
                field: format!("{field}.kind"),
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
        let cached = match reader.identity.is_impersonated() {
            true => None,
            false => self.watches.cached(&key, &kind.resource),
        };
        let object = match cached {
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
        // Items of a watch's list come without `apiVersion` and `kind`: without them a `dump`
        // read from the cache would not be an object `kubectl apply` accepts.
        let object = object.map(|mut o| {
            o.types.get_or_insert_with(|| kube::api::TypeMeta {
                api_version: kind.resource.api_version.clone(),
                kind: kind.resource.kind.clone(),
            });
            o
        });
        let object = object
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| read_error(kube::Error::SerdeError(e)))?;
        Ok(ReadReference {
            key,
            kind,
            object,
            resource_version,
        })
    }
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
