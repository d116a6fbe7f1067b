//! `kubectl apply -k config/samples` is accepted by the real admission webhook: one working
//! sample per documented use case, each with the objects it references, and the policy that
//! lets prometheus-config-backup export `alertmanager.yml`.

use std::time::{Duration, Instant};

use gco_tests::{
    testenv::{ControlPlane, install_crds},
    tools::{run, yaml_documents},
    webhook, workspace_root,
};

/// Stands in for the Prometheus operator's CRDs, which the Prometheus sample needs: its kinds,
/// with any content accepted.
fn monitoring_crds() -> String {
    ["PrometheusRule", "ServiceMonitor"]
        .map(|kind| {
            let singular = kind.to_lowercase();
            format!(
                r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{ name: {singular}s.monitoring.coreos.com }}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {{ kind: {kind}, plural: {singular}s, singular: {singular} }}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{ openAPIV3Schema: {{ type: object, x-kubernetes-preserve-unknown-fields: true }} }}
"#
            )
        })
        .join("---\n")
}

#[tokio::test]
async fn every_sample_is_accepted_by_the_webhook() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");
    install_crds(&client).await.expect("CRDs");
    webhook::register(&client).await.expect("webhook");
    let crds = plane
        .scratch_dir("monitoring")
        .expect("dir")
        .join("crds.yaml");
    std::fs::write(&crds, monitoring_crds()).expect("write");
    run(plane.kubectl().args(["apply", "-f"]).arg(&crds)).expect("monitoring CRDs");
    run(plane.kubectl().args([
        "wait",
        "--for=condition=Established",
        "crd/prometheusrules.monitoring.coreos.com",
        "crd/servicemonitors.monitoring.coreos.com",
    ]))
    .expect("Established");

    // The webhook learns about the samples' policy from a watch: until it has, it refuses the
    // Prometheus sample, and `kubectl apply` is simply run again (as a user or Flux would).
    let samples = workspace_root().join("config/samples");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match run(plane.kubectl().args(["apply", "-k"]).arg(&samples)) {
            Ok(_) => break,
            Err(error) if Instant::now() > deadline => panic!("samples refused: {error:#}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }

    let output = run(plane.kubectl().arg("kustomize").arg(&samples)).expect("kustomize");
    let objects = yaml_documents(&String::from_utf8_lossy(&output.stdout)).expect("YAML");
    let ours: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == "GitCommit" || o["kind"] == "PullRequest")
        .collect();
    assert_eq!(ours.len(), 8, "one sample per documented use case");
    for object in ours {
        let kind = object["kind"].as_str().expect("kind");
        let name = object["metadata"]["name"].as_str().expect("name");
        let live = run(plane.kubectl().args([
            "get",
            &format!("{}.gco.galos.one", kind.to_lowercase()),
            name,
            "-n",
            "gco-samples",
            "-o",
            "json",
        ]))
        .unwrap_or_else(|e| panic!("{kind} {name} missing: {e:#}"));
        let live: serde_json::Value = serde_json::from_slice(&live.stdout).expect("JSON");
        if kind == "PullRequest" {
            // Filled in by the mutating webhook from the github.com URL.
            assert_eq!(live["spec"]["repository"]["provider"], "github", "{name}");
        }
    }
}
