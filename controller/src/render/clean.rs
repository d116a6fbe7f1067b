//! `dump`: an object as clean, apply-ready YAML whose bytes depend only on its content.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// Server-populated metadata that must not be applied back, or that changes on every write
/// and would turn an unchanged object into a new commit.
const SERVER_METADATA: [&str; 8] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];
/// kubectl's client-side apply record: a second, stale copy of the object.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The object without `status` and server-populated metadata, ready for `kubectl apply`.
pub fn clean_for_apply(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(top) = object.as_object_mut() {
        top.remove("status");
        if let Some(metadata) = top.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                metadata.remove(key);
            }
            if let Some(annotations) = metadata
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove(LAST_APPLIED);
            }
            for key in ["annotations", "labels"] {
                if metadata.get(key).is_some_and(is_empty_or_null) {
                    metadata.remove(key);
                }
            }
        }
    }
    object
}

fn is_empty_or_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// YAML with a fixed key order: `apiVersion`, `kind`, `metadata` first, then the rest sorted
/// (and `name`, `namespace`, `labels`, `annotations` first inside `metadata`), whatever order
/// the apiserver or serde_json's features produced.
pub fn to_yaml(value: &Value) -> Result<String, String> {
    serde_saphyr::to_string(&Ordered {
        value,
        priority: TOP_LEVEL,
    })
    .map_err(|error| error.to_string())
}

const TOP_LEVEL: &[&str] = &["apiVersion", "kind", "metadata"];
const METADATA: &[&str] = &["name", "generateName", "namespace", "labels", "annotations"];

struct Ordered<'a> {
    value: &'a Value,
    priority: &'static [&'static str],
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(map) => serialize_map(map, self.priority, serializer),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Ordered {
                        value: item,
                        priority: &[],
                    })?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

fn serialize_map<S: Serializer>(
    map: &Map<String, Value>,
    priority: &'static [&'static str],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut keys: Vec<&String> = map.keys().collect();
    let rank = |key: &str| {
        priority
            .iter()
            .position(|p| *p == key)
            .unwrap_or(priority.len())
    };
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let mut out = serializer.serialize_map(Some(keys.len()))?;
    for key in keys {
        let child_priority = if priority == TOP_LEVEL && key == "metadata" {
            METADATA
        } else {
            &[]
        };
        out.serialize_entry(
            key,
            &Ordered {
                value: &map[key],
                priority: child_priority,
            },
        )?;
    }
    out.end()
}
