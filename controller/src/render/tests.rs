use gco_api::{ExportSpec, FileSpec, OutputSpec, ResourceReference, Strategy, WriteMode};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

fn at() -> Timestamp {
    Timestamp::from_second(1_795_352_400).expect("valid") // 2026-11-22T13:00:00Z
}

fn reference(strategy: Strategy, path: &str, field: Option<&str>) -> ResourceReference {
    ResourceReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: Some("app".into()),
        namespace: Some("prod".into()),
        strategy,
        field: field.map(Into::into),
        output: OutputSpec {
            path: path.into(),
            encryption: None,
        },
        ..Default::default()
    }
}

fn configmap() -> Value {
    json!({
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "app", "namespace": "prod", "uid": "u-1", "resourceVersion": "42",
            "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 3, "selfLink": "/x",
            "managedFields": [{"manager": "kubectl"}],
            "labels": {"app": "web", "app.kubernetes.io/name": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
        },
        "data": {"b.conf": "line1\nline2\n", "a.txt": "hello", "replicas": "3"},
        "binaryData": {"logo.bin": "AAEC"},
        "status": {"x": 1}
    })
}

fn spec(references: Vec<ResourceReference>) -> ExportSpec {
    ExportSpec {
        resource_references: references,
        ..ExportSpec::default()
    }
}

fn render_one(
    reference: ResourceReference,
    object: Value,
) -> Result<Vec<PlannedWrite>, RenderError> {
    render(&spec(vec![reference]), &[vec![object]], at())
}

#[test]
fn dump_is_clean_sorted_and_stable() {
    let writes = render_one(reference(Strategy::Dump, "apps/", None), configmap()).expect("render");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].path.as_str(), "apps/app.yaml");
    let yaml = String::from_utf8(writes[0].content.clone()).expect("utf8");
    assert!(
        yaml.starts_with("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"),
        "{yaml}"
    );
    for gone in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "selfLink",
        "managedFields",
        "last-applied",
        "annotations",
        "status",
    ] {
        assert!(!yaml.contains(gone), "{gone} left in {yaml}");
    }
    assert!(yaml.contains("b.conf: |"), "{yaml}");
    // Same content in another key order renders the same bytes.
    let mut reordered = serde_json::Map::new();
    if let Value::Object(map) = configmap() {
        for (k, v) in map.into_iter().rev() {
            reordered.insert(k, v);
        }
    }
    let again = render_one(
        reference(Strategy::Dump, "apps/", None),
        Value::Object(reordered),
    )
    .expect("render");
    assert_eq!(writes, again);
    // And it parses back to the cleaned object.
    let back: Value = serde_saphyr::from_str(&yaml).expect("parse back");
    assert_eq!(back, clean_for_apply(&configmap()));
}

#[test]
fn fields_writes_one_file_per_key() {
    let writes =
        render_one(reference(Strategy::Fields, "cfg/", None), configmap()).expect("render");
    let got: Vec<(&str, &[u8])> = writes
        .iter()
        .map(|w| (w.path.as_str(), w.content.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cfg/a.txt", b"hello".as_slice()),
            ("cfg/b.conf", b"line1\nline2\n".as_slice()),
            ("cfg/logo.bin", [0u8, 1, 2].as_slice()),
            ("cfg/replicas", b"3".as_slice()),
        ]
    );
}

#[test]
fn secret_values_are_decoded() {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
                        "data": {"tls.crt": "Q0VSVA=="}});
    let mut r = reference(Strategy::SingleField, "certs/tls.crt", Some("tls.crt"));
    r.kind = "Secret".into();
    let writes = render_one(r, secret).expect("render");
    assert_eq!(writes[0].content, b"CERT");
}

#[test]
fn a_secret_exports_keys_of_its_data_only() {
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tls", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"x\"}}"}},
        "data": {"tls.crt": "Q0VSVA=="}});
    for path in ["metadata", "metadata.annotations", "data"] {
        let mut r = reference(Strategy::SingleField, "out/x", Some(path));
        r.kind = "Secret".into();
        assert!(render_one(r, secret.clone()).is_err(), "{path}");
    }
}

#[test]
fn single_field_reads_keys_and_dotted_paths() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "app.kubernetes.io/name": "w"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let cases = [
        ("spec.replicas", "3"),
        ("metadata.labels.app", "web"),
        ("metadata.labels.app.kubernetes.io/name", "w"),
        ("spec.template.spec.containers.0.image", "nginx"),
        ("metadata.labels", "app: web\napp.kubernetes.io/name: w\n"),
    ];
    for (path, expected) in cases {
        let writes = render_one(
            reference(Strategy::SingleField, "out", Some(path)),
            deployment.clone(),
        )
        .expect(path);
        assert_eq!(
            String::from_utf8_lossy(&writes[0].content),
            expected,
            "{path}"
        );
    }
    let error = render_one(
        reference(Strategy::SingleField, "out", Some("spec.nope")),
        deployment,
    )
    .expect_err("missing");
    assert!(
        error.to_string().contains(
            "spec.resourceReferences[0]: ConfigMap web has no key or field \"spec.nope\""
        ),
        "{error}"
    );
}

#[test]
fn placeholders_render_before_paths_are_checked() {
    let mut s = spec(vec![reference(
        Strategy::Dump,
        "backups/$(date +%Y%m%d)/cm.yaml",
        None,
    )]);
    s.files.push(FileSpec {
        path: "meta/$(date +%Y)/info".into(),
        content: "at $(date)".into(),
        write_mode: Some(WriteMode::Append),
        encryption: None,
    });
    let writes = render(&s, &[vec![configmap()]], at()).expect("render");
    assert_eq!(writes[0].path.as_str(), "meta/2026/info");
    assert_eq!(writes[0].content, b"at Sun Nov 22 13:00:00 UTC 2026");
    assert_eq!(writes[0].mode, Placement::Append);
    assert_eq!(writes[1].path.as_str(), "backups/20261122/cm.yaml");

    let bad = render_one(
        reference(Strategy::Dump, "$(date +../%Y)/x", None),
        configmap(),
    )
    .expect_err("escape");
    assert!(matches!(bad, RenderError::Path { .. }), "{bad}");
    assert!(
        bad.to_string()
            .starts_with("spec.resourceReferences[0].output.path: "),
        "{bad}"
    );
    let shell =
        render_one(reference(Strategy::Dump, "$(whoami)/x", None), configmap()).expect_err("shell");
    assert!(matches!(shell, RenderError::Placeholder { .. }), "{shell}");
}

#[test]
fn missing_references_fail_unless_optional() {
    let mut r = reference(Strategy::Dump, "x.yaml", None);
    let error = render(&spec(vec![r.clone()]), &[vec![]], at()).expect_err("missing");
    assert!(matches!(error, RenderError::ReferenceNotFound { .. }));
    r.optional = true;
    assert_eq!(
        render(&spec(vec![r]), &[vec![]], at()).expect("skipped"),
        vec![]
    );
}

#[test]
fn duplicate_overwrites_are_refused() {
    let s = spec(vec![
        reference(Strategy::Dump, "x.yaml", None),
        reference(Strategy::Dump, "x.yaml", None),
    ]);
    let error = render(&s, &[vec![configmap()], vec![configmap()]], at()).expect_err("dup");
    assert!(
        matches!(error, RenderError::DuplicatePath { .. }),
        "{error}"
    );
}

#[test]
fn appended_yaml_is_placed_as_a_document() {
    let mut dump = reference(Strategy::Dump, "snapshots/app.txt", None);
    dump.write_mode = Some(WriteMode::Append);
    let mut field = reference(Strategy::SingleField, "values.yml", Some("a.txt"));
    field.write_mode = Some(WriteMode::Append);
    let mut s = spec(vec![dump, field]);
    s.files.push(FileSpec {
        path: "report.log".into(),
        content: "run\n".into(),
        write_mode: Some(WriteMode::Append),
        encryption: None,
    });
    let writes = render(&s, &[vec![configmap()], vec![configmap()]], at()).expect("render");
    let placements: Vec<_> = writes.iter().map(|w| (w.path.as_str(), w.mode)).collect();
    assert_eq!(
        placements,
        [
            ("report.log", Placement::Append),
            ("snapshots/app.txt", Placement::AppendDocument),
            ("values.yml", Placement::AppendDocument),
        ]
    );
}
