//! The objects a spec references: read them (any kind, resolved by discovery), and watch them
//! so a change triggers the objects that reference it.
//!
//! [`References::read`] reads *and* records what an owner references, so no caller can forget
//! to start the watch that keeps the next read current.

mod identity;
mod kinds;
mod select;
mod selections;
mod watches;

use std::collections::HashMap;

use gco_api::{ExportKind, ResourceReference, Target, split_api_version};
use kube::{
    Api, Client,
    api::DynamicObject,
    core::{GroupVersionKind, Selector},
};
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::runtime::InitialList;

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
        "{field}: {identity} may not {verb} {kind} {name} ({detail}): grant it `{verb}` on \
         {kind} (a Role and RoleBinding in the namespace), or reference what it may read"
    )]
    Forbidden {
        field: String,
        verb: &'static str,
        kind: String,
        /// The name, quoted, or the selector and where it looks.
        name: String,
        identity: Box<Identity>,
        detail: String,
    },
    #[error("{field}: cannot read {kind} {name}: {source}")]
    Read {
        field: String,
        kind: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{field}: {reason}")]
    Selector { field: String, reason: String },
    #[error(
        "{field}: more than {limit} {what}, counting every selector of the object (rule \
         max-files); fix: narrow the selectors or split the export into several objects, or ask \
         a cluster admin to raise `spec.limits.maxFiles` of the GitExportPolicy that sets it"
    )]
    TooMany {
        field: String,
        what: String,
        limit: usize,
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

/// One object read: its key, and the live object (`None` when it does not exist).
#[derive(Clone, Debug)]
pub struct ReadObject {
    pub key: ObjectKey,
    pub object: Option<Value>,
    pub resource_version: Option<String>,
}

/// What one reference found.
#[derive(Clone, Debug)]
pub enum Found {
    /// A reference by name: that object, present or not.
    Named(ReadObject),
    /// A selector: every object it matches (each present), in key order.
    Selected(Selected),
}

/// What a selector matched, and where it looked: what its watch must cover.
#[derive(Clone, Debug)]
pub struct Selected {
    pub matches: Vec<ReadObject>,
    pub selector: Selector,
    pub looked: Looked,
}

/// Where a selector looked.
#[derive(Clone, Debug)]
pub enum Looked {
    /// In one namespace.
    Namespace(String),
    /// In the namespaces a `namespaceSelector` matched when it was read.
    Namespaces {
        selector: Selector,
        matched: std::collections::BTreeSet<String>,
    },
    /// Everywhere: a cluster-scoped kind.
    Cluster,
}

/// One reference, read: its resolved kind and what it found.
#[derive(Clone, Debug)]
pub struct ReadReference {
    pub kind: ResolvedKind,
    pub found: Found,
}

impl ReadReference {
    /// Every object read, in order.
    pub fn objects(&self) -> &[ReadObject] {
        match &self.found {
            Found::Named(one) => std::slice::from_ref(one),
            Found::Selected(selected) => &selected.matches,
        }
    }

    /// The live objects found (a missing named one is left out), moved out: a selector's
    /// matches are not copied again to be rendered.
    pub fn into_values(self) -> Vec<Value> {
        let objects = match self.found {
            Found::Named(one) => vec![one],
            Found::Selected(selected) => selected.matches,
        };
        objects.into_iter().filter_map(|o| o.object).collect()
    }
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
    /// Referenced Secrets are looked at every `secret_poll`; the watches start as `lists` says.
    pub fn new(
        client: Client,
        referenced: Gauge,
        secret_poll: std::time::Duration,
        lists: InitialList,
    ) -> (Self, HashMap<ExportKind, mpsc::UnboundedReceiver<Owner>>) {
        let (watches, triggers) = ReferenceWatches::new(client, referenced, secret_poll, lists);
        let references = Self {
            kinds: KindResolver::default(),
            watches,
        };
        (references, triggers)
    }

    /// Reads every reference of `owner`'s spec, in order (the owner's namespace is the default
    /// namespace), and from then on triggers `owner` when one of them changes, or when an
    /// object starts or stops matching one of its selectors.
    ///
    /// An impersonating `reader` reads every object from the apiserver, never from the watch
    /// caches (which hold what the controller may read), so the apiserver judges each read.
    /// The selectors of one owner read at most `max_matches` objects, and look in at most as
    /// many namespaces, together.
    pub async fn read(
        &self,
        reader: &Reader,
        owner: &Owner,
        references: &[ResourceReference],
        max_matches: usize,
    ) -> Result<Vec<ReadReference>, ReferenceError> {
        let mut read = Vec::with_capacity(references.len());
        let mut budget = max_matches;
        for (index, reference) in references.iter().enumerate() {
            let field = format!("spec.resourceReferences[{index}]");
            let kind = self.resolve(reader, &field, reference).await?;
            let found = match reference.target() {
                Some(Target::Named(name)) => Found::Named(
                    self.read_named(reader, &field, reference, &kind, name, &owner.namespace)
                        .await?,
                ),
                Some(Target::Selected {
                    selector,
                    namespaces,
                }) => {
                    let ask = select::Ask {
                        field: &field,
                        reference,
                        kind: &kind,
                        selector,
                        namespace_selector: namespaces,
                        own_namespace: &owner.namespace,
                        limit: max_matches,
                    };
                    Found::Selected(select::read(reader, &ask, &mut budget).await?)
                }
                None => {
                    return Err(ReferenceError::Selector {
                        field: format!("{field}.name"),
                        reason: "give exactly one of `name` and `selector`".into(),
                    });
                }
            };
            read.push(ReadReference { kind, found });
        }
        self.watches.track(owner, &read);
        Ok(read)
    }

    /// Stops triggering a deleted owner.
    pub fn forget(&self, owner: &Owner) {
        self.watches.forget(owner);
    }

    async fn resolve(
        &self,
        reader: &Reader,
        field: &str,
        reference: &ResourceReference,
    ) -> Result<ResolvedKind, ReferenceError> {
        let gvk = gvk_of(reference);
        self.kinds
            .resolve(&reader.client, &gvk)
            .await
            .map_err(|source| ReferenceError::Read {
                field: field.to_owned(),
                kind: reference.kind.clone(),
                name: reference.describe(),
                source: Box::new(source),
            })?
            .ok_or_else(|| ReferenceError::UnknownKind {
                field: format!("{field}.kind"),
                api_version: reference.api_version.clone(),
                kind: reference.kind.clone(),
            })
    }

    async fn read_named(
        &self,
        reader: &Reader,
        field: &str,
        reference: &ResourceReference,
        kind: &ResolvedKind,
        name: &str,
        default_namespace: &str,
    ) -> Result<ReadObject, ReferenceError> {
        let read_error = |source: kube::Error| {
            read_error(
                reader,
                field,
                "get",
                &reference.kind,
                format!("{name:?}"),
                source,
            )
        };
        let namespace = match kind.namespaced {
            true => reference_namespace(reference, default_namespace),
            false => "",
        };
        let key = ObjectKey {
            group: kind.resource.group.clone(),
            kind: kind.resource.kind.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let cached = match reader.identity.is_impersonated() {
            true => None,
            false => self.watches.cached(&key, &kind.resource),
        };
        let object = match cached {
            Some(cached) => cached.map(|o| (*o).clone()),
            None => api_for(&reader.client, kind, namespace)
                .get_opt(name)
                .await
                .map_err(read_error)?,
        };
        Ok(read_object(key, object, kind))
    }
}

/// The namespace a reference names; its owner's when it names none (or an empty one).
fn reference_namespace<'a>(reference: &'a ResourceReference, default: &'a str) -> &'a str {
    reference
        .namespace
        .as_deref()
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or(default)
}

/// The API of `kind` in `namespace` (ignored for a cluster-scoped kind).
fn api_for(client: &Client, kind: &ResolvedKind, namespace: &str) -> Api<DynamicObject> {
    if kind.namespaced && !namespace.is_empty() {
        Api::namespaced_with(client.clone(), namespace, &kind.resource)
    } else {
        Api::all_with(client.clone(), &kind.resource)
    }
}

/// A failed read, as the reference's error: a refusal names who may not do what.
fn read_error(
    reader: &Reader,
    field: &str,
    verb: &'static str,
    kind: &str,
    name: String,
    source: kube::Error,
) -> ReferenceError {
    if let Some(detail) = forbidden(&source) {
        return ReferenceError::Forbidden {
            field: field.to_owned(),
            verb,
            kind: kind.to_owned(),
            name,
            identity: Box::new(reader.identity.clone()),
            detail,
        };
    }
    ReferenceError::Read {
        field: field.to_owned(),
        kind: kind.to_owned(),
        name,
        source: Box::new(source),
    }
}

/// An object as read, with the `apiVersion` and `kind` a watch's list leaves out: without them
/// a `dump` read from the cache would not be an object `kubectl apply` accepts.
fn read_object(key: ObjectKey, object: Option<DynamicObject>, kind: &ResolvedKind) -> ReadObject {
    let resource_version = object
        .as_ref()
        .and_then(|o| o.metadata.resource_version.clone());
    let object = object.and_then(|mut o| {
        o.types.get_or_insert_with(|| kube::api::TypeMeta {
            api_version: kind.resource.api_version.clone(),
            kind: kind.resource.kind.clone(),
        });
        // A dynamic object always serialises; a failure would only lose this one object.
        serde_json::to_value(o).ok()
    });
    ReadObject {
        key,
        object,
        resource_version,
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
