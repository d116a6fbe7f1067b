//! Which policies apply: `namespaceSelector` (a Kubernetes LabelSelector) against the
//! labels of the exporting object's namespace.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::ResourceExt;

use crate::policy::GitExportPolicy;

/// Whether `selector` selects a namespace with `labels`. No selector, or an empty one,
/// selects every namespace. An expression with an unknown operator selects too: a policy an
/// admin got wrong should restrict more, not silently nothing.
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    labels_match
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|expression| expression_matches(expression, labels))
}

fn expression_matches(
    expression: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&expression.key);
    let values = expression.values.as_deref().unwrap_or_default();
    match expression.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => true,
    }
}

/// The policies that select a namespace with `labels`, sorted by name (the order in which
/// their defaults take precedence).
pub fn matching<'p>(
    policies: impl IntoIterator<Item = &'p GitExportPolicy>,
    labels: &BTreeMap<String, String>,
) -> Vec<&'p GitExportPolicy> {
    let mut selected: Vec<_> = policies
        .into_iter()
        .filter(|policy| selects(policy.spec.namespace_selector.as_ref(), labels))
        .collect();
    selected.sort_by_key(|policy| policy.name_any());
    selected
}
