//! `kubectl gco migrate`: manifests in the shape of the original Go operator's 1.2.x API,
//! written for this test, become objects the real apiserver and admission webhook accept, and
//! what has no equivalent is listed. (The original's own examples are not copied here.)

use gco_tests::{
    admission::{create, setup},
    cli::kubectl_gco,
};
use serde_json::Value;

/// Old-style manifests: a GitCommit with every convertible field, a PullRequest, and the
/// Secret they use (passed through). `cli_migrate_live.rs` creates the same objects in a cluster.
const OLD: &str = include_str!("../fixtures/migrate/original-1.2.yaml");

#[tokio::test]
async fn old_manifests_become_objects_the_webhook_admits() {
    let (client, namespace) = setup("migrate").await.expect("setup");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("old.yaml");
    std::fs::write(&file, OLD).expect("write");
    let plane = gco_tests::testenv::ControlPlane::shared();
    let file_arg = file.to_string_lossy().into_owned();
    let run = kubectl_gco(plane.kubeconfig(), &["migrate", "-f", &file_arg])
        .await
        .expect("kubectl-gco runs");
    assert!(run.status.success(), "{}", run.transcript());
    for note in [
        "gitcommit/nightly-config: spec.files[1] (clusters/east/status.txt) dropped",
        "gitcommit/nightly-config: spec.restAPIs dropped",
        "gitcommit/nightly-config: spec.ttlMinutes 60 became ttlSecondsAfterFinished 3600",
        "pullrequest/propose-config: spec.ttlMinutes dropped",
    ] {
        assert!(run.stderr.contains(note), "{}", run.transcript());
    }

    let objects: Vec<Value> = serde_saphyr::from_multiple(&run.stdout).expect("YAML out");
    assert_eq!(objects.len(), 3, "{}", run.stdout);
    assert_eq!(objects[0]["kind"], "Secret", "passed through");
    let pull_request = &objects[2]["spec"];
    assert_eq!(
        pull_request["resourceReferences"][0]["output"]["path"],
        "clusters/east/app-config.yaml"
    );
    assert_eq!(objects[1]["spec"]["ttlSecondsAfterFinished"], 3600);
    assert_eq!(objects[1]["spec"]["historyLimit"], 5);
    // What the apiserver's schema and the webhook's rules say of the converted objects.
    for object in &objects[1..] {
        let name = &object["metadata"]["name"];
        let admitted = create(&client, &namespace, object, true)
            .await
            .unwrap_or_else(|refused| panic!("{name} refused: {refused}\n{}", run.stdout));
        // Nothing was pruned as unknown: every converted field is in the stored spec.
        let stored = &admitted.data["spec"];
        for (field, value) in object["spec"].as_object().expect("spec") {
            assert!(
                stored.get(field).is_some_and(|v| !v.is_null()),
                "{name}: spec.{field} ({value}) was pruned: {stored}"
            );
        }
    }

    // An encrypted export is not converted into a clear-text one.
    let encrypted = OLD.replace(
        "  maxExecutionHistory: 5\n",
        "  maxExecutionHistory: 5\n  encryption: { enabled: true }\n",
    );
    std::fs::write(&file, encrypted).expect("write");
    let run = kubectl_gco(plane.kubeconfig(), &["migrate", "-f", &file_arg])
        .await
        .expect("kubectl-gco runs");
    assert!(!run.status.success(), "{}", run.transcript());
    assert!(
        run.stderr.contains("gitcommit/nightly-config") && run.stderr.contains("clear text"),
        "{}",
        run.transcript()
    );
}
