//! Reading a selector reference: every object of a kind whose labels match, in one namespace,
//! in every namespace a `namespaceSelector` matches, or cluster-wide for a cluster-scoped kind.
//!
//! A selector is parsed once (`gco_api::selector`), and the same parsed selector filters the
//! watch cache and queries the apiserver, so both give the same answer. Reads are bounded: a
//! selector matching more than the object's file limit is refused before anything renders.

use gco_api::ResourceReference;
use k8s_openapi::{api::core::v1::Namespace, apimachinery::pkg::apis::meta::v1::LabelSelector};
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, ListParams, PartialObjectMeta},
    core::{Selector, SelectorExt},
};

use super::{
    ObjectKey, Reader, ReferenceError, References, ResolvedKind, Selected, api_for, read_error,
    read_object,
};

/// What to read for one selector reference.
pub(super) struct Ask<'a> {
    pub field: &'a str,
    pub reference: &'a ResourceReference,
    pub kind: &'a ResolvedKind,
    pub selector: &'a LabelSelector,
    pub namespace_selector: Option<&'a LabelSelector>,
    /// The owner's namespace: where the selector looks when the reference names none.
    pub own_namespace: &'a str,
    pub max_matches: usize,
}

pub(super) async fn read(
    references: &References,
    reader: &Reader,
    ask: &Ask<'_>,
) -> Result<Selected, ReferenceError> {
    let selector = parse(&format!("{}.selector", ask.field), ask.selector)?;
    let by_namespace_selector = ask.kind.namespaced && ask.namespace_selector.is_some();
    let namespaces = match (ask.kind.namespaced, ask.namespace_selector) {
        (false, _) => vec![String::new()],
        (true, Some(namespace_selector)) => {
            let field = format!("{}.namespaceSelector", ask.field);
            let namespace_selector = parse(&field, namespace_selector)?;
            let names =
                matching_namespaces(references, reader, &field, &namespace_selector).await?;
            // Each namespace looked in is a watch the operator keeps: bounded like the matches.
            if names.len() > ask.max_matches {
                return Err(ReferenceError::TooMany {
                    field,
                    kind: "Namespace".to_owned(),
                    selection: format!("matching {}", describe(&namespace_selector)),
                    limit: ask.max_matches,
                });
            }
            names
        }
        (true, None) => vec![
            ask.reference
                .namespace
                .clone()
                .unwrap_or_else(|| ask.own_namespace.to_owned()),
        ],
    };
    let mut matches = Vec::new();
    for namespace in &namespaces {
        let found = match reader.identity.is_impersonated() {
            true => None,
            false => references.watches.cached_matching(
                ask.kind,
                namespace,
                &selector,
                ask.max_matches + 1,
            ),
        };
        let found = match found {
            Some(found) => found,
            None => list(reader, ask, namespace, &selector).await?,
        };
        for object in found {
            let key = ObjectKey {
                group: ask.kind.resource.group.clone(),
                kind: ask.kind.resource.kind.clone(),
                namespace: object.namespace().unwrap_or_default(),
                name: object.name_any(),
            };
            matches.push(read_object(key, Some(object), ask.kind));
        }
        if matches.len() > ask.max_matches {
            return Err(too_many(ask, &selector));
        }
    }
    matches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Selected {
        matches,
        selector,
        namespaces,
        by_namespace_selector,
    })
}

fn parse(field: &str, selector: &LabelSelector) -> Result<Selector, ReferenceError> {
    gco_api::selector::parse(selector).map_err(|error| ReferenceError::Selector {
        field: field.to_owned(),
        reason: error.to_string(),
    })
}

/// Lists the matches in `namespace` from the apiserver, as `reader`: at most one past the
/// limit is fetched, which is enough to refuse.
async fn list(
    reader: &Reader,
    ask: &Ask<'_>,
    namespace: &str,
    selector: &Selector,
) -> Result<Vec<DynamicObject>, ReferenceError> {
    let api = api_for(&reader.client, ask.kind, namespace);
    let limit = u32::try_from(ask.max_matches + 1).unwrap_or(u32::MAX);
    let params = ListParams::default().labels_from(selector).limit(limit);
    let listed = api.list(&params).await.map_err(|source| {
        read_error(
            reader,
            ask.field,
            "list",
            &ask.reference.kind,
            where_(selector, namespace),
            source,
        )
    })?;
    let more = listed
        .metadata
        .continue_
        .as_deref()
        .is_some_and(|token| !token.is_empty());
    if more {
        return Err(too_many(ask, selector));
    }
    Ok(listed
        .items
        .into_iter()
        .map(|mut object| {
            object.managed_fields_mut().clear();
            object
        })
        .collect())
}

/// The namespaces whose labels `selector` matches, sorted. Listed with the operator's own
/// identity (names and labels only): the objects in them are still read as `reader`.
async fn matching_namespaces(
    references: &References,
    reader: &Reader,
    field: &str,
    selector: &Selector,
) -> Result<Vec<String>, ReferenceError> {
    let api: Api<PartialObjectMeta<Namespace>> = Api::all(references.client.clone());
    let listed = api
        .list_metadata(&ListParams::default().labels_from(selector))
        .await
        .map_err(|source| {
            read_error(
                reader,
                field,
                "list",
                "Namespace",
                format!("matching {}", describe(selector)),
                source,
            )
        })?;
    let mut names: Vec<String> = listed
        .items
        .iter()
        .filter(|namespace| selector.matches(namespace.labels()))
        .map(|namespace| namespace.name_any())
        .collect();
    names.sort();
    Ok(names)
}

fn too_many(ask: &Ask<'_>, selector: &Selector) -> ReferenceError {
    ReferenceError::TooMany {
        field: format!("{}.selector", ask.field),
        kind: ask.reference.kind.clone(),
        selection: format!("matching {}", describe(selector)),
        limit: ask.max_matches,
    }
}

/// `matching app=web in namespace "team"` for messages.
fn where_(selector: &Selector, namespace: &str) -> String {
    match namespace.is_empty() {
        true => format!("matching {}", describe(selector)),
        false => format!("matching {} in namespace {namespace:?}", describe(selector)),
    }
}

fn describe(selector: &Selector) -> String {
    match selector.selects_all() {
        true => "everything".to_owned(),
        false => selector.to_string(),
    }
}
