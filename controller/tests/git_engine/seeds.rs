//! Every seed example's files and references, rendered against fixture objects and committed.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use gco_api::{ExportSpec, ResourceReference, Strategy};
use gco_controller::{
    git::{Author, Change, ObjectRef, Outcome, RunId},
    render::render,
};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::{engine, file_url, support::repos};

pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/seeds")
}

/// All seed manifests, sorted.
pub fn seed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(seeds_dir())
        .expect("seeds folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// A plausible live object for a reference, with the server-side fields `dump` must drop and
/// the keys `fields` / `single-field` read.
pub fn fixture_object(reference: &ResourceReference, namespace: &str) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let namespace = reference.namespace.as_deref().unwrap_or(namespace);
    let mut object = json!({
        "apiVersion": reference.api_version,
        "kind": reference.kind,
        "metadata": {
            "name": reference.name.as_deref().unwrap_or("selected"), "namespace": namespace, "uid": "0000-1111",
            "resourceVersion": "4242", "generation": 2, "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            "labels": {"app": reference.name.as_deref().unwrap_or("selected")},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"secret\":\"old\"}"}
        },
        "status": {"observedGeneration": 2}
    });
    let field = reference.field.clone().unwrap_or_else(|| "extra".into());
    match reference.kind.as_str() {
        "ConfigMap" => {
            object["data"] = json!({"app.properties": "mode=prod\nreplicas=3\n", "log-level": "info", field: "value of the field\n"});
        }
        "Secret" => {
            object["type"] = json!("kubernetes.io/tls");
            object["data"] = json!({"tls.crt": b64("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
                                   "tls.key": b64("PRIVATE")});
            if object["data"].get(&field).is_none() {
                object["data"][&field] = json!(b64("route:\n  receiver: team\n"));
            }
        }
        _ => {
            object["spec"] =
                json!({"replicas": 3, "selector": {"matchLabels": {"app": reference.name}}});
        }
    }
    object
}

#[tokio::test]
async fn every_seed_renders_and_commits() {
    let at = Timestamp::from_second(1_795_352_400).expect("instant");
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "seeds.git");
    let (_cache, engine) = engine();
    let url = file_url(&bare);
    let files = seed_files();
    assert!(files.len() >= 8, "seed fixtures found: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read seed");
        let manifest: Value = serde_saphyr::from_str(&text).expect("parse seed");
        let name = manifest
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .expect("name")
            .to_owned();
        let namespace = manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let spec: ExportSpec = serde_json::from_value(manifest["spec"].clone()).expect("spec");
        let objects: Vec<Vec<Value>> = spec
            .resource_references
            .iter()
            .map(|r| vec![fixture_object(r, namespace)])
            .collect();
        let writes = render(&spec, &objects, at).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = spec.files.len()
            + spec
                .resource_references
                .iter()
                .map(|r| if r.strategy == Strategy::Fields { 3 } else { 1 })
                .sum::<usize>();
        assert_eq!(writes.len(), expected, "{name}");
        for write in &writes {
            if write.path.as_str().ends_with(".yaml") && write.path.as_str().contains("backups/") {
                let yaml = String::from_utf8_lossy(&write.content);
                assert!(
                    !yaml.contains("resourceVersion") && !yaml.contains("last-applied"),
                    "{name}: {yaml}"
                );
            }
        }
        let change = Change {
            object: ObjectRef {
                namespace: namespace.into(),
                kind: manifest["kind"].as_str().unwrap_or_default().into(),
                name: name.clone(),
            },
            run: RunId::new(&format!("seed-{name}")).expect("run id"),
            author: Author::operator(),
            message: format!("seed {name}"),
            writes: writes.clone(),
            signing: None,
            at,
            recover: None,
        };
        let outcome = engine
            .commit(&url, "main", &Default::default(), change)
            .await
            .expect("commit");
        assert!(
            matches!(outcome, Outcome::Committed { .. }),
            "{name}: {outcome:?}"
        );
        for write in &writes {
            let shown = repos::git_command(&bare)
                .args(["show", &format!("main:{}", write.path)])
                .output()
                .expect("show");
            assert!(shown.status.success(), "{name}: {} missing", write.path);
            // Appends land after whatever earlier seeds wrote to the same file.
            assert!(
                shown.stdout.ends_with(&write.content),
                "{name}: {} content",
                write.path
            );
        }
    }
    let info = repos::show(&bare, "main", "backup-metadata/20261122/cluster-info.yaml")
        .unwrap_or_default();
    assert!(info.contains("backup_type"), "{info}");
    let cert =
        repos::show(&bare, "main", "backups/20261122/certificates/tls.crt").unwrap_or_default();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
}
