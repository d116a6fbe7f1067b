//! `fields` and `single-field`: values out of an object, as file contents.

use base64::Engine as _;
use serde_json::Value;

use super::{RenderError, Who, to_yaml};

/// Most dots a `single-field` path may have.
const MAX_PATH_PARTS: usize = 32;

/// Every `data` key (text; base64-decoded for a Secret) and `binaryData` key (decoded bytes),
/// sorted by key so the order of writes is stable.
pub(super) fn data_entries(
    object: &Value,
    field: &str,
    who: &Who,
) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
    let data = object.get("data").and_then(Value::as_object);
    let binary = object.get("binaryData").and_then(Value::as_object);
    if data.is_none() && binary.is_none() {
        return Err(RenderError::NoDataFields {
            field: field.to_owned(),
            kind: who.kind.clone(),
            name: who.name.clone(),
        });
    }
    let secret = is_secret(object);
    let mut entries = Vec::new();
    for (key, value) in data.into_iter().flatten() {
        entries.push((key.clone(), data_value(value, secret, key, field)?));
    }
    for (key, value) in binary.into_iter().flatten() {
        entries.push((key.clone(), decode(value, key, field)?));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// One `data`/`binaryData` key, or else a dotted path into the object: scalars as plain text,
/// maps and lists as YAML.
pub(super) fn single_field(
    object: &Value,
    name: &str,
    field: &str,
    who: &Who,
) -> Result<Vec<u8>, RenderError> {
    if let Some(value) = object.get("data").and_then(|d| d.get(name)) {
        return data_value(value, is_secret(object), name, field);
    }
    if let Some(value) = object.get("binaryData").and_then(|d| d.get(name)) {
        return decode(value, name, field);
    }
    let not_found = || RenderError::FieldNotFound {
        field: field.to_owned(),
        kind: who.kind.clone(),
        name: who.name.clone(),
        path: name.to_owned(),
    };
    // A Secret exports keys of its data only: a path such as `metadata` would reach the
    // last-applied configuration, which holds every key.
    if is_secret(object) {
        return Err(not_found());
    }
    let value = lookup(object, name).ok_or_else(not_found)?;
    match value {
        Value::String(text) => Ok(text.clone().into_bytes()),
        Value::Null => Ok(Vec::new()),
        Value::Bool(_) | Value::Number(_) => Ok(value.to_string().into_bytes()),
        Value::Array(_) | Value::Object(_) => {
            to_yaml(value)
                .map(String::into_bytes)
                .map_err(|reason| RenderError::Yaml {
                    field: field.to_owned(),
                    reason,
                })
        }
    }
}

/// Follows `a.b.0.c`: map keys, and list indexes where the value is a list. A key that itself
/// contains dots (`metadata.labels.app.kubernetes.io/name`) is found by trying the longest
/// remaining key first.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(value);
    }
    let parts: Vec<&str> = path.split('.').collect();
    // Bounds the search: no real object nests this deep, and every split is tried.
    if parts.len() > MAX_PATH_PARTS {
        return None;
    }
    for take in (1..=parts.len()).rev() {
        let key = parts[..take].join(".");
        let child = match value {
            Value::Object(map) => map.get(&key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        if let Some(child) = child
            && let Some(found) = lookup(child, &parts[take..].join("."))
        {
            return Some(found);
        }
    }
    None
}

fn is_secret(object: &Value) -> bool {
    let field = |name| object.get(name).and_then(Value::as_str).unwrap_or_default();
    gco_api::is_secret(field("apiVersion"), field("kind"))
}

fn data_value(value: &Value, secret: bool, key: &str, field: &str) -> Result<Vec<u8>, RenderError> {
    if secret {
        return decode(value, key, field);
    }
    Ok(match value {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    })
}

fn decode(value: &Value, key: &str, field: &str) -> Result<Vec<u8>, RenderError> {
    let text = value.as_str().unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|error| RenderError::BadBase64 {
            field: field.to_owned(),
            key: key.to_owned(),
            reason: error.to_string(),
        })
}
