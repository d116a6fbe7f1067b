//! `kubectl apply -k config/default` installs the operator into a real apiserver: every object is
//! created, the pods are configured for the restricted Pod Security Standard, and it installs the
//! same kinds of objects as the Helm chart.
//!
//! Its own binary (its own control plane): the webhook configurations it registers point at a
//! Service no pod serves, so nothing else could create our objects beside it.

use std::collections::BTreeSet;

use gco_tests::{
    testenv::ControlPlane,
    tools::{assert_installed, kinds, run, tool, yaml_documents},
    workspace_root,
};
use serde_json::{Value, json};

fn render(dir: &str) -> Vec<Value> {
    let output = run(ControlPlane::shared()
        .kubectl()
        .arg("kustomize")
        .arg(workspace_root().join(dir)))
    .expect("kubectl kustomize");
    yaml_documents(&String::from_utf8_lossy(&output.stdout)).expect("YAML")
}

#[test]
fn config_default_installs_every_object() {
    let plane = ControlPlane::shared();
    let applied = run(plane
        .kubectl()
        .args(["apply", "--server-side", "-k"])
        .arg(workspace_root().join("config/default")))
    .expect("kubectl apply -k config/default");
    // The namespace carries `pod-security.kubernetes.io/warn: restricted`: the apiserver checks
    // the Deployments' pod templates against the restricted standard and warns on violations.
    let warnings = String::from_utf8_lossy(&applied.stderr);
    assert!(!warnings.contains("PodSecurity"), "{warnings}");
    let objects = render("config/default");
    assert_installed(plane, &objects);
    let namespace = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .expect("a Namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    for deployment in objects.iter().filter(|o| o["kind"] == "Deployment") {
        let pod = &deployment["spec"]["template"]["spec"];
        let name = &deployment["metadata"]["name"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &pod["containers"][0];
        assert_eq!(
            container["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            json!(["ALL"])
        );
        let image = container["image"].as_str().expect("image");
        assert!(
            image.ends_with(":0.1.0"),
            "{name}: image tag pinned: {image}"
        );
    }
}

#[test]
fn config_default_and_the_chart_install_the_same_kinds() {
    let kustomize: BTreeSet<String> = kinds(&render("config/default")).into_keys().collect();
    let output = run(tool("helm")
        .expect("helm")
        .args([
            "template",
            "gco",
            "--include-crds",
            "--kube-version",
            "1.36.3",
        ])
        .arg(workspace_root().join("charts/git-change-operator"))
        .args(["--set", "networkPolicy.enabled=false"]))
    .expect("helm template");
    let mut helm: BTreeSet<String> =
        kinds(&yaml_documents(&String::from_utf8_lossy(&output.stdout)).expect("YAML"))
            .into_keys()
            .collect();
    // kustomize creates the namespace; Helm installs into one (`--create-namespace`).
    helm.insert("Namespace".into());
    assert_eq!(kustomize, helm);
}
