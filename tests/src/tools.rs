//! The Go tools the chart, kustomize and Flux tests use (helm, kubeconform,
//! notification-controller), built by `hack/tools.sh` from the Go module proxy, promtool, built
//! by `hack/promtool.sh`, and the offline JSON schemas kubeconform validates against.
//!
//! kubeconform cannot download schemas here, so they are made from what the tests already have:
//! built-in kinds from the real apiserver's `/openapi/v2` (exactly the Kubernetes release the
//! tests run), our kinds from the generated CRDs.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

/// The folder holding helm, kubeconform and notification-controller, built on demand (a no-op
/// when fresh). `GCO_TOOLS_BIN` points elsewhere.
pub fn tools_bin() -> Result<PathBuf> {
    crate::go_built("hack/tools.sh", "bin/tools", "GCO_TOOLS_BIN")
}

/// The folder holding promtool, built on demand (a no-op when fresh). `GCO_PROMTOOL_BIN`
/// points elsewhere.
pub fn promtool_bin() -> Result<PathBuf> {
    crate::go_built("hack/promtool.sh", "bin/promtool", "GCO_PROMTOOL_BIN")
}

/// Panics naming the first of `objects` (rendered manifests) the apiserver does not have.
pub fn assert_installed(plane: &crate::testenv::ControlPlane, objects: &[Value]) {
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let group = object["apiVersion"]
            .as_str()
            .and_then(|v| v.split_once('/'))
            .map(|(g, _)| format!(".{g}"))
            .unwrap_or_default();
        let mut get = plane.kubectl();
        get.args(["get", &format!("{kind}{group}"), name, "-o", "name"]);
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            get.args(["--namespace", ns]);
        }
        if let Err(error) = run(&mut get) {
            panic!("{kind} {name} missing: {error:#}");
        }
    }
}

/// A command for one of the tools, with no inherited Helm configuration.
pub fn tool(name: &str) -> Result<Command> {
    let dir = match name {
        "promtool" => promtool_bin()?,
        _ => tools_bin()?,
    };
    let mut command = Command::new(dir.join(name));
    if name == "helm" {
        // Helm keeps repositories, cache and plugins under $HOME: keep the tests hermetic.
        let home = std::env::temp_dir().join(format!("gco-helm-{}", std::process::id()));
        for (var, sub) in [
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ] {
            command.env(var, home.join(sub));
        }
    }
    Ok(command)
}

/// Runs `command`, failing with its output unless it succeeds.
pub fn run(command: &mut Command) -> Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("run {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} {:?} failed with {}:\n{}\n{}",
            command.get_program(),
            command.get_args().collect::<Vec<_>>(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// kubeconform's `-schema-location` for a folder written by [`write_schemas`].
pub fn schema_location(dir: &Path) -> String {
    format!(
        "{}/{{{{ .Group }}}}/{{{{ .ResourceAPIVersion }}}}/{{{{ .ResourceKind }}}}.json",
        dir.display()
    )
}

/// Writes one strict JSON schema per kind into `dir`, laid out for [`schema_location`]:
/// built-in kinds from an apiserver's OpenAPI v2 document, custom kinds from CRDs (as JSON).
/// Returns how many schemas were written.
pub fn write_schemas(dir: &Path, openapi_v2: &Value, crds: &[Value]) -> Result<usize> {
    let definitions = openapi_v2["definitions"]
        .as_object()
        .context("the OpenAPI v2 document has no definitions")?;
    let definitions: Map<String, Value> = definitions
        .iter()
        .map(|(name, schema)| (name.clone(), builtin_definition(name, schema)))
        .collect();
    let mut written = 0;
    for (name, schema) in &definitions {
        let Some(gvks) = schema["x-kubernetes-group-version-kind"].as_array() else {
            continue;
        };
        // Only the definitions this kind reaches, so each file stays small.
        let mut needed = BTreeSet::from([name.clone()]);
        collect_refs(schema, &definitions, &mut needed);
        let subset: Map<String, Value> = needed
            .into_iter()
            .filter_map(|n| definitions.get(&n).map(|d| (n, d.clone())))
            .collect();
        let document = json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "$ref": format!("#/definitions/{name}"),
            "definitions": subset,
        });
        for gvk in gvks {
            let (group, version, kind) = (
                gvk["group"].as_str().unwrap_or_default(),
                gvk["version"].as_str().unwrap_or_default(),
                gvk["kind"].as_str().unwrap_or_default(),
            );
            write_schema(dir, group, version, kind, &document)?;
            written += 1;
        }
    }
    for crd in crds {
        let group = crd["spec"]["group"].as_str().context("CRD without group")?;
        let kind = crd["spec"]["names"]["kind"]
            .as_str()
            .context("CRD without kind")?;
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let name = version["name"]
                .as_str()
                .context("CRD version without name")?;
            let mut schema = crd_schema(&version["schema"]["openAPIV3Schema"]);
            schema["$schema"] = json!("http://json-schema.org/draft-04/schema#");
            // The apiserver adds these to every custom resource whether the schema lists them
            // or not; ObjectMeta itself is validated by the apiserver, not by the CRD.
            for (field, type_) in [("apiVersion", "string"), ("kind", "string")] {
                schema["properties"][field] = json!({ "type": type_ });
            }
            if schema["properties"]["metadata"].is_null() {
                schema["properties"]["metadata"] = json!({ "type": "object" });
            }
            write_schema(dir, group, name, kind, &schema)?;
            written += 1;
        }
    }
    Ok(written)
}

fn write_schema(dir: &Path, group: &str, version: &str, kind: &str, schema: &Value) -> Result<()> {
    // kubeconform's `.Group` is the part of apiVersion before the slash: the version itself for
    // the core group.
    let group_dir = if group.is_empty() { version } else { group };
    let folder = dir.join(group_dir).join(version);
    fs::create_dir_all(&folder)?;
    let path = folder.join(format!("{}.json", kind.to_lowercase()));
    fs::write(&path, serde_json::to_vec(schema)?)
        .with_context(|| format!("write {}", path.display()))
}

/// A built-in definition made strict, with Kubernetes' two string-or-number types spelled out
/// (OpenAPI v2 calls them strings with a format, which JSON Schema does not understand).
fn builtin_definition(name: &str, schema: &Value) -> Value {
    match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            json!({ "oneOf": [{ "type": "string" }, { "type": "integer" }] })
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            json!({ "oneOf": [{ "type": "string" }, { "type": "number" }] })
        }
        _ => {
            let mut schema = schema.clone();
            strict(&mut schema);
            schema
        }
    }
}

/// Refuses unknown fields wherever a schema lists its fields and says nothing else.
fn strict(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let open = object.contains_key("additionalProperties")
        || object.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if object.contains_key("properties") && !open {
        object.insert("additionalProperties".into(), json!(false));
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" => value
                .as_object_mut()
                .into_iter()
                .flat_map(|p| p.values_mut())
                .for_each(strict),
            "items" | "additionalProperties" => strict(value),
            "allOf" | "anyOf" | "oneOf" => {
                value.as_array_mut().into_iter().flatten().for_each(strict)
            }
            _ => {}
        }
    }
}

/// A CRD's structural schema as JSON Schema: Kubernetes extensions translated, strict.
fn crd_schema(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let translated = match key.as_str() {
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), crd_schema(v)))
                    .collect(),
            ),
            "items" | "additionalProperties" if value.is_object() => crd_schema(value),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(crd_schema)
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), translated);
    }
    if out.remove("x-kubernetes-int-or-string") == Some(json!(true)) {
        out.remove("type");
        out.insert(
            "oneOf".into(),
            json!([{ "type": "string" }, { "type": "integer" }]),
        );
    }
    if out.remove("nullable") == Some(json!(true))
        && let Some(Value::String(type_)) = out.get("type").cloned()
    {
        out.insert("type".into(), json!([type_, "null"]));
    }
    let open = out.contains_key("additionalProperties")
        || out.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if out.contains_key("properties") && !open {
        out.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(out)
}

/// Every definition name `schema` references, transitively.
fn collect_refs(schema: &Value, definitions: &Map<String, Value>, found: &mut BTreeSet<String>) {
    match schema {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref")
                && let Some(name) = reference.strip_prefix("#/definitions/")
                && found.insert(name.to_owned())
                && let Some(target) = definitions.get(name)
            {
                collect_refs(target, definitions, found);
            }
            object
                .values()
                .for_each(|v| collect_refs(v, definitions, found));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_refs(v, definitions, found)),
        _ => {}
    }
}

/// Every YAML document of a multi-document stream, as JSON (empty documents dropped).
pub fn yaml_documents(text: &str) -> Result<Vec<Value>> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(text).context("parse a YAML stream")?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// `kind` → number of objects of that kind.
pub fn kinds(objects: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for object in objects {
        let kind = object["kind"].as_str().unwrap_or("?").to_owned();
        *counts.entry(kind).or_default() += 1;
    }
    counts
}
