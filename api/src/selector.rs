//! Label selectors a tenant writes (`resourceReferences[].selector` and `.namespaceSelector`):
//! their bounded schema, their validation, and the one conversion to kube's [`Selector`] that
//! both the apiserver query and the in-memory match use, so the two can never disagree.
//!
//! A GitExportPolicy's own `namespaceSelector` is an admin's and keeps its lenient reading
//! (`rules/selector.rs`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Expression, Selector};
use schemars::{Schema, SchemaGenerator, json_schema};

/// At most this many `matchLabels` entries, and as many `matchExpressions`.
pub const MAX_TERMS: usize = 16;
/// At most this many values in one expression.
pub const MAX_VALUES: usize = 16;

/// The schema of a tenant's label selector: Kubernetes' LabelSelector with every part bounded.
pub fn bounded_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "A Kubernetes label selector: `matchLabels` and `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`), all of which must match.",
        "properties": {
            "matchLabels": {
                "type": "object",
                "maxProperties": MAX_TERMS,
                "additionalProperties": {"type": "string", "maxLength": 63}
            },
            "matchExpressions": {
                "type": "array",
                "maxItems": MAX_TERMS,
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {"type": "string", "maxLength": 317},
                        "operator": {"type": "string", "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        "values": {
                            "type": "array",
                            "maxItems": MAX_VALUES,
                            "items": {"type": "string", "maxLength": 63}
                        }
                    }
                }
            }
        }
    })
}

/// Why a selector cannot be used; the message says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error(
        "label key {key:?} is not a label key: write `name` or `prefix/name`, where name is 1 to 63 of a-z A-Z 0-9 - _ . starting and ending with a letter or digit, and prefix a DNS subdomain"
    )]
    Key { key: String },
    #[error(
        "label value {value:?} is not a label value: at most 63 of a-z A-Z 0-9 - _ . starting and ending with a letter or digit, or empty"
    )]
    Value { value: String },
    #[error(
        "operator {operator:?} with values {values:?}: `In` and `NotIn` take 1 to {MAX_VALUES} values, `Exists` and `DoesNotExist` none"
    )]
    Operator {
        operator: String,
        values: Vec<String>,
    },
    #[error("more than {MAX_TERMS} labels or expressions: split the reference in two")]
    TooLarge,
}

/// The selector `selector` stands for, after checking every key, value and operator the way
/// the apiserver does: a selector the operator accepts means the same in a list query and in
/// a match against a cached object.
pub fn parse(selector: &LabelSelector) -> Result<Selector, SelectorError> {
    let labels = selector.match_labels.clone().unwrap_or_default();
    let expressions = selector.match_expressions.clone().unwrap_or_default();
    if labels.len() > MAX_TERMS || expressions.len() > MAX_TERMS {
        return Err(SelectorError::TooLarge);
    }
    let mut terms = Vec::with_capacity(labels.len() + expressions.len());
    for (key, value) in labels {
        check_key(&key)?;
        check_value(&value)?;
        terms.push(Expression::Equal(key, value));
    }
    for requirement in expressions {
        check_key(&requirement.key)?;
        let values = requirement.values.clone().unwrap_or_default();
        for value in &values {
            check_value(value)?;
        }
        let bad_operator = || SelectorError::Operator {
            operator: requirement.operator.clone(),
            values: values.clone(),
        };
        let takes_values = matches!(requirement.operator.as_str(), "In" | "NotIn");
        let has_values = !values.is_empty();
        if takes_values != has_values || values.len() > MAX_VALUES {
            return Err(bad_operator());
        }
        terms.push(Expression::try_from(requirement.clone()).map_err(|_| bad_operator())?);
    }
    Ok(terms.into_iter().collect())
}

/// A selector as a person reads it, e.g. `app=web,tier in (a,b)`; `everything` when empty.
pub fn describe(selector: &LabelSelector) -> String {
    match parse(selector) {
        Ok(parsed) if parsed.selects_all() => "everything".to_owned(),
        Ok(parsed) => parsed.to_string(),
        Err(_) => "an invalid selector".to_owned(),
    }
}

fn check_key(key: &str) -> Result<(), SelectorError> {
    let bad = || SelectorError::Key {
        key: key.chars().take(320).collect(),
    };
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.is_empty() || prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Err(bad());
        }
    }
    if name.is_empty() || !is_label_text(name) {
        return Err(bad());
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_label_text(value) {
        return Ok(());
    }
    Err(SelectorError::Value {
        value: value.chars().take(80).collect(),
    })
}

/// 1 to 63 of `a-z A-Z 0-9 - _ .`, starting and ending with a letter or digit.
fn is_label_text(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use kube::core::SelectorExt;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expression(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn a_selector_matches_and_queries_the_same_way() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![expression("tier", "In", &["a", "b"])]),
        };
        let parsed = parse(&selector).expect("valid");
        assert_eq!(parsed.to_string(), "app=web,tier in (a,b)");
        assert!(parsed.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!parsed.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!parsed.matches(&labels(&[("tier", "a")])));
        assert_eq!(describe(&LabelSelector::default()), "everything");
    }

    #[test]
    fn what_could_change_a_query_is_refused() {
        for (key, value) in [
            ("app", "web,env!=prod"),
            ("app", "a b"),
            ("app,env", "x"),
            ("", "x"),
            ("UPPER.example/app", "x"),
            ("-app", "x"),
        ] {
            let selector = LabelSelector {
                match_labels: Some(labels(&[(key, value)])),
                match_expressions: None,
            };
            assert!(parse(&selector).is_err(), "{key:?}={value:?} accepted");
        }
        for requirement in [
            expression("app", "In", &[]),
            expression("app", "Exists", &["x"]),
            expression("app", "Gt", &["1"]),
            expression("app", "NotIn", &["a)"]),
        ] {
            let selector = LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![requirement.clone()]),
            };
            assert!(parse(&selector).is_err(), "{requirement:?} accepted");
        }
        let many = LabelSelector {
            match_labels: Some((0..17).map(|i| (format!("k{i}"), "v".into())).collect()),
            match_expressions: None,
        };
        assert_eq!(parse(&many), Err(SelectorError::TooLarge));
        let ok = LabelSelector {
            match_labels: Some(labels(&[("app.kubernetes.io/name", ""), ("a_b.c", "X-1")])),
            match_expressions: Some(vec![expression("team", "DoesNotExist", &[])]),
        };
        assert!(parse(&ok).is_ok());
    }
}
