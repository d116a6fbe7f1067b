//! `dump`: an object as clean, apply-ready YAML whose bytes depend only on its content, and
//! restore-ready: what the apiserver or a controller assigned, and what binds the object to
//! its source cluster, is left out per kind (the table in docs/user-guide.md, "Restore-ready
//! dumps").

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

/// Annotations controllers write that bind an object to its source cluster: a PVC's binding,
/// provisioner and node, a Deployment's rollout revision. Exact keys: the user-set
/// `volume.beta.kubernetes.io/storage-class` and `mount-options` are kept.
const ASSIGNED_ANNOTATIONS: [&str; 7] = [
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "pv.kubernetes.io/provisioned-by",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "deployment.kubernetes.io/revision",
];
/// What `kubectl rollout restart` sets on a workload's pod template.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Finalizers the garbage collector sets for a deletion under way.
const DELETION_FINALIZERS: [&str; 2] = ["foregroundDeletion", "orphan"];
/// Labels the Job controller writes from the Job's uid.
const JOB_UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];

/// The object without `status`, server-populated metadata and what the apiserver or a
/// controller assigned for its source cluster, ready for `kubectl apply` there or elsewhere.
pub fn clean_for_apply(object: &Value) -> Value {
    let mut object = object.clone();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let group = object["apiVersion"]
        .as_str()
        .map_or("", |v| v.rsplit_once('/').map_or("", |(group, _)| group))
        .to_owned();
    if let Some(top) = object.as_object_mut() {
        top.remove("status");
        let job = (group.as_str(), kind.as_str()) == ("batch", "Job");
        let manual_selector = top
            .get("spec")
            .and_then(|spec| spec.get("manualSelector"))
            .and_then(Value::as_bool);
        let generated_selector = job && manual_selector != Some(true);
        if generated_selector
            && let Some(labels) = top
                .get_mut("metadata")
                .and_then(|m| m.get_mut("labels"))
                .and_then(Value::as_object_mut)
        {
            // The Job controller copies its uid labels onto the Job itself too.
            for label in JOB_UID_LABELS {
                labels.remove(label);
            }
        }
        if let Some(metadata) = top.get_mut("metadata").and_then(Value::as_object_mut) {
            clean_metadata(metadata);
        }
        if let Some(spec) = top.get_mut("spec").and_then(Value::as_object_mut) {
            match (group.as_str(), kind.as_str()) {
                ("", "Service") => clean_service(spec),
                ("", "PersistentVolumeClaim") => {
                    spec.remove("volumeName");
                }
                ("", "Pod") => {
                    spec.remove("nodeName");
                }
                ("batch", "Job") => clean_job(spec),
                _ => {}
            }
            if matches!(
                (group.as_str(), kind.as_str()),
                ("apps", "Deployment" | "StatefulSet" | "DaemonSet")
            ) {
                clean_restart(spec);
            }
        }
    }
    object
}

fn clean_metadata(metadata: &mut Map<String, Value>) {
    for key in SERVER_METADATA {
        metadata.remove(key);
    }
    // An owner reference names the owner's uid, which is the source cluster's: applied
    // elsewhere it points at nothing, and the garbage collector deletes what it owns.
    metadata.remove("ownerReferences");
    if let Some(annotations) = metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.remove(LAST_APPLIED);
        for key in ASSIGNED_ANNOTATIONS {
            annotations.remove(key);
        }
    }
    // Finalizers of Kubernetes' own controllers (`kubernetes.io/pvc-protection`,
    // `service.kubernetes.io/load-balancer-cleanup`, `batch.kubernetes.io/job-tracking`) and of
    // a deletion under way: added again, where needed, by the cluster the object is applied to.
    if let Some(finalizers) = metadata.get_mut("finalizers").and_then(Value::as_array_mut) {
        finalizers.retain(|f| !f.as_str().is_some_and(is_kubernetes_finalizer));
    }
    for key in ["annotations", "labels", "finalizers"] {
        if metadata.get(key).is_some_and(is_empty_or_null) {
            metadata.remove(key);
        }
    }
}

/// The cluster IPs the apiserver allocated (a headless Service's `None` is the user's), the
/// health check port it allocated, and the node ports of a LoadBalancer Service (allocated
/// unless set; a NodePort Service's are kept, being usually chosen).
fn clean_service(spec: &mut Map<String, Value>) {
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if !headless {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    spec.remove("healthCheckNodePort");
    if spec.get("type").and_then(Value::as_str) == Some("LoadBalancer")
        && let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut)
    {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.remove("nodePort");
        }
    }
}

/// The pod template's `kubectl.kubernetes.io/restartedAt`: `kubectl rollout restart` asked the
/// source cluster for a restart; it is no configuration, would commit at every restart, and
/// applied elsewhere would restart the pods there whenever it changed.
fn clean_restart(spec: &mut Map<String, Value>) {
    let template_metadata = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("metadata"))
        .and_then(Value::as_object_mut);
    if let Some(metadata) = template_metadata {
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove(RESTARTED_AT);
        }
        if metadata.get("annotations").is_some_and(is_empty_or_null) {
            metadata.remove("annotations");
        }
    }
}

/// The selector and labels the Job controller generated from the Job's uid (unless the Job
/// chose its selector with `manualSelector: true`).
fn clean_job(spec: &mut Map<String, Value>) {
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    spec.remove("selector");
    let labels = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("metadata"))
        .and_then(|m| m.get_mut("labels"))
        .and_then(Value::as_object_mut);
    if let Some(labels) = labels {
        for label in JOB_UID_LABELS {
            labels.remove(label);
        }
    }
}

fn is_kubernetes_finalizer(finalizer: &str) -> bool {
    let domain = finalizer.split_once('/').map_or("", |(domain, _)| domain);
    domain == "kubernetes.io"
        || domain.ends_with(".kubernetes.io")
        || DELETION_FINALIZERS.contains(&finalizer)
}

fn is_empty_or_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// YAML with a fixed key order: `apiVersion`, `kind`, `metadata` first, then the rest sorted
/// (and `name`, `namespace`, `labels`, `annotations` first inside `metadata`), whatever order
/// the apiserver or serde_json's features produced.
pub fn to_yaml(value: &Value) -> Result<String, String> {
    serde_saphyr::to_string(&Ordered {
        value,
        ordering: Ordering::TopLevel,
    })
    .map_err(|error| error.to_string())
}

/// The order a dump lists an object's keys in: `apiVersion`, `kind`, `metadata` (with `name`,
/// `generateName`, `namespace`, `labels`, `annotations` first) as people write them, then the
/// rest sorted. One definition for the YAML and for what walks it in file order (`seal.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering {
    TopLevel,
    Metadata,
    Plain,
}

impl Ordering {
    fn priority(self) -> &'static [&'static str] {
        match self {
            Ordering::TopLevel => &["apiVersion", "kind", "metadata"],
            Ordering::Metadata => &["name", "generateName", "namespace", "labels", "annotations"],
            Ordering::Plain => &[],
        }
    }

    /// `map`'s entries in file order, each with the ordering of its value.
    pub fn entries(self, map: &Map<String, Value>) -> Vec<(&String, &Value, Ordering)> {
        let priority = self.priority();
        let rank = |key: &str| {
            priority
                .iter()
                .position(|p| *p == key)
                .unwrap_or(priority.len())
        };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
        keys.into_iter()
            .map(|key| {
                let child = match (self, key.as_str()) {
                    (Ordering::TopLevel, "metadata") => Ordering::Metadata,
                    _ => Ordering::Plain,
                };
                (key, &map[key], child)
            })
            .collect()
    }
}

struct Ordered<'a> {
    value: &'a Value,
    ordering: Ordering,
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(map) => {
                let entries = self.ordering.entries(map);
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value, ordering) in entries {
                    out.serialize_entry(key, &Ordered { value, ordering })?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Ordered {
                        value: item,
                        ordering: Ordering::Plain,
                    })?;
                }
                seq.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests;
