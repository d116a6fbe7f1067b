//! Reading a selector reference: every object of a kind whose labels match, in one namespace,
//! in every namespace a `namespaceSelector` matches, or cluster-wide for a cluster-scoped kind.
//!
//! A selector is parsed once (`gco_api::selector`) and given to the apiserver as it parsed it.
//! Selected objects are always listed as the reader (so the apiserver judges every list, also
//! of namespaces), never served from a cache, and within a budget the owner's selectors share:
//! one object or namespace past it is read, and the run is refused before anything renders.

use std::collections::BTreeSet;

use gco_api::ResourceReference;
use k8s_openapi::{api::core::v1::Namespace, apimachinery::pkg::apis::meta::v1::LabelSelector};
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, ListParams},
    core::Selector,
};

use super::{
    Looked, ObjectKey, Reader, ReferenceError, ResolvedKind, Selected, api_for, read_error,
    read_object, reference_namespace,
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
    /// The owner's whole budget, for messages.
    pub limit: usize,
}

/// Reads what `ask` selects, taking each match and each namespace looked in from `budget`.
pub(super) async fn read(
    reader: &Reader,
    ask: &Ask<'_>,
    budget: &mut usize,
) -> Result<Selected, ReferenceError> {
    let selector = parse(&format!("{}.selector", ask.field), ask.selector)?;
    let looked = match (ask.kind.namespaced, ask.namespace_selector) {
        (false, _) => Looked::Cluster,
        (true, Some(namespace_selector)) => {
            let field = format!("{}.namespaceSelector", ask.field);
            let namespace_selector = parse(&field, namespace_selector)?;
            let matched =
                matching_namespaces(reader, ask, &field, &namespace_selector, budget).await?;
            Looked::Namespaces {
                selector: namespace_selector,
                matched,
            }
        }
        (true, None) => {
            Looked::Namespace(reference_namespace(ask.reference, ask.own_namespace).to_owned())
        }
    };
    let places: Vec<&str> = match &looked {
        Looked::Namespace(namespace) => vec![namespace.as_str()],
        Looked::Namespaces { matched, .. } => matched.iter().map(String::as_str).collect(),
        Looked::Cluster => vec![""],
    };
    let mut matches = Vec::new();
    for namespace in places {
        for object in list(reader, ask, namespace, &selector, *budget).await? {
            *budget = budget
                .checked_sub(1)
                .ok_or_else(|| too_many(ask, "", &selector))?;
            let key = ObjectKey {
                group: ask.kind.resource.group.clone(),
                kind: ask.kind.resource.kind.clone(),
                namespace: object.namespace().unwrap_or_default(),
                name: object.name_any(),
            };
            matches.push(read_object(key, Some(object), ask.kind));
        }
    }
    matches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Selected {
        matches,
        selector,
        looked,
    })
}

fn parse(field: &str, selector: &LabelSelector) -> Result<Selector, ReferenceError> {
    gco_api::selector::parse(selector).map_err(|error| ReferenceError::Selector {
        field: field.to_owned(),
        reason: error.to_string(),
    })
}

/// Lists the matches in `namespace` (`""`: cluster-wide) as `reader`: at most one past what
/// is left of the budget, which is enough to refuse.
async fn list(
    reader: &Reader,
    ask: &Ask<'_>,
    namespace: &str,
    selector: &Selector,
    left: usize,
) -> Result<Vec<DynamicObject>, ReferenceError> {
    let api = api_for(&reader.client, ask.kind, namespace);
    let params = ListParams::default()
        .labels_from(selector)
        .limit(u32::try_from(left + 1).unwrap_or(u32::MAX));
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
    if has_more(&listed.metadata) || listed.items.len() > left {
        return Err(too_many(ask, namespace, selector));
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

/// The namespaces whose labels `selector` matches, listed as `reader` (who must be allowed to
/// list namespaces: names and labels are not for everyone), each taken from `budget`: each is
/// a place the selector is looked for at every run.
async fn matching_namespaces(
    reader: &Reader,
    ask: &Ask<'_>,
    field: &str,
    selector: &Selector,
    budget: &mut usize,
) -> Result<BTreeSet<String>, ReferenceError> {
    let api: Api<Namespace> = Api::all(reader.client.clone());
    let params = ListParams::default()
        .labels_from(selector)
        .limit(u32::try_from(*budget + 1).unwrap_or(u32::MAX));
    let listed = api.list_metadata(&params).await.map_err(|source| {
        read_error(
            reader,
            field,
            "list",
            "Namespace",
            format!("matching {}", describe(selector)),
            source,
        )
    })?;
    if has_more(&listed.metadata) || listed.items.len() > *budget {
        return Err(ReferenceError::TooMany {
            field: field.to_owned(),
            what: format!("namespaces matching {}", describe(selector)),
            limit: ask.limit,
        });
    }
    *budget -= listed.items.len();
    Ok(listed.items.iter().map(ResourceExt::name_any).collect())
}

/// Whether a limited list left items out (it hands back a continue token).
fn has_more(metadata: &kube::api::ListMeta) -> bool {
    metadata
        .continue_
        .as_deref()
        .is_some_and(|token| !token.is_empty())
}

fn too_many(ask: &Ask<'_>, namespace: &str, selector: &Selector) -> ReferenceError {
    ReferenceError::TooMany {
        field: format!("{}.selector", ask.field),
        what: format!(
            "{} objects {}",
            ask.reference.kind,
            where_(selector, namespace)
        ),
        limit: ask.limit,
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
