//! The Helm chart: `helm lint --strict` in every configuration, the rendered manifests (and the
//! kustomize ones) validated by kubeconform against the real apiserver's schemas and our CRDs,
//! and a `helm install` into the real apiserver that creates every object.
//!
//! One control plane for the binary: its `/openapi/v2` is the source of the built-in schemas,
//! and the install registers webhook configurations that no pod serves, so no other test may
//! share it.

use std::{path::PathBuf, sync::OnceLock};

use gco_tests::{
    testenv::{ControlPlane, ensure_namespace},
    tools::{assert_installed, kinds, run, schema_location, tool, write_schemas, yaml_documents},
    workspace_root,
};
use serde_json::{Value, json};

const CHART: &str = "charts/git-change-operator";
/// The Kubernetes release the control plane runs (hack/testenv), for `helm template`.
const KUBE_VERSION: &str = "1.36.3";

/// Value sets that between them switch on every template branch.
fn variants() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("defaults", vec![]),
        (
            "everything-on",
            vec![
                "certManager.enabled=true",
                "flux.enabled=true",
                "metrics.serviceMonitor.enabled=true",
                "metrics.dashboard.enabled=true",
                "metrics.dashboard.annotations.grafana_folder=Operators",
                "metrics.prometheusRule.enabled=true",
                "metrics.prometheusRule.labels.release=prometheus",
                "metrics.prometheusRule.additionalLabels.team=platform",
                "defaultPolicy.enabled=true",
                "controller.replicas=2",
                "controller.watchNamespace=apps",
                "controller.watchLabelSelector=shard=a",
                "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring",
                "networkPolicy.webhookFrom[0].ipBlock.cidr=10.0.0.0/24",
            ],
        ),
        (
            "cert-manager-cluster-issuer",
            vec![
                "certManager.enabled=true",
                "certManager.issuerRef.name=ca",
                "certManager.issuerRef.kind=ClusterIssuer",
                "networkPolicy.enabled=false",
            ],
        ),
    ]
}

fn chart() -> PathBuf {
    workspace_root().join(CHART)
}

fn set_args(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| ["--set".into(), (*v).to_owned()])
        .collect()
}

/// Strict schemas for every built-in kind of the control plane and our CRDs, written once.
fn schemas() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let plane = ControlPlane::shared();
        let raw = run(plane.kubectl().args(["get", "--raw", "/openapi/v2"])).expect("openapi");
        let openapi: Value = serde_json::from_slice(&raw.stdout).expect("OpenAPI JSON");
        let crds: Vec<Value> = gco_api::crd::all()
            .into_iter()
            .map(|(_, crd)| serde_json::to_value(crd).expect("CRD as JSON"))
            .collect();
        let dir = plane.scratch_dir("schemas").expect("schema dir");
        let written = write_schemas(&dir, &openapi, &crds).expect("write schemas");
        assert!(written > 100, "only {written} schemas from the apiserver");
        dir
    })
}

/// kubeconform, strict, on a manifest stream. Certificate, Issuer, ServiceMonitor and PrometheusRule belong to
/// cert-manager and the Prometheus operator, whose schemas are not available offline: they are
/// skipped by name, never by `-ignore-missing-schemas`, so any other unknown kind fails.
fn kubeconform(what: &str, manifests: &str) {
    let output = kubeconform_output(what, manifests);
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && summary.contains("Invalid: 0, Errors: 0"),
        "kubeconform rejects {what}: {summary}"
    );
}

fn kubeconform_output(what: &str, manifests: &str) -> std::process::Output {
    let dir = ControlPlane::shared()
        .scratch_dir("manifests")
        .expect("dir");
    let file = dir.join(format!("{what}.yaml"));
    std::fs::write(&file, manifests).expect("write manifests");
    tool("kubeconform")
        .expect("kubeconform")
        .args([
            "-strict",
            "-summary",
            "-output",
            "text",
            "-skip",
            "Certificate,Issuer,ServiceMonitor,PrometheusRule",
            "-schema-location",
            &schema_location(schemas()),
        ])
        .arg(&file)
        .output()
        .expect("kubeconform runs")
}

fn template(values: &[&str]) -> String {
    let output = run(tool("helm")
        .expect("helm")
        .args([
            "template",
            "gco",
            "--namespace",
            "gco-system",
            "--include-crds",
        ])
        .args(["--kube-version", KUBE_VERSION])
        .arg(chart())
        .args(set_args(values)))
    .expect("helm template");
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
fn the_chart_lints_strictly_in_every_configuration() {
    for (name, values) in variants() {
        let output = run(tool("helm")
            .expect("helm")
            .args(["lint", "--strict"])
            .arg(chart())
            .args(set_args(&values)))
        .unwrap_or_else(|e| panic!("helm lint --strict ({name}): {e:#}"));
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("0 chart(s) failed"), "{name}: {text}");
    }
}

#[test]
fn values_outside_the_schema_are_refused() {
    for bad in [
        "controller.replicas=2,controller.leaderElection=false",
        "webhook.replicas=1",
        "flux.eventsAddr=notification-controller:9090",
        "controller.logFormat=yaml",
        "unknownKey=1",
        "metrics.dashboard.colour=blue",
        "metrics.prometheusRule.enabled=yes",
    ] {
        let output = tool("helm")
            .expect("helm")
            .args(["template", "gco"])
            .arg(chart())
            .args(["--set", bad])
            .output()
            .expect("helm runs");
        assert!(!output.status.success(), "{bad} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("schema"), "{bad}: {stderr}");
    }
}

#[test]
fn every_rendering_validates_against_the_kubernetes_and_crd_schemas() {
    for (name, values) in variants() {
        kubeconform(&format!("helm-{name}"), &template(&values));
    }
    for dir in ["config/default", "config/samples", "config/flux"] {
        let kubectl = gco_tests::testenv::binaries()
            .expect("kubectl")
            .join("kubectl");
        let output = run(std::process::Command::new(kubectl)
            .arg("kustomize")
            .arg(workspace_root().join(dir)))
        .expect("kustomize");
        let manifests = String::from_utf8(output.stdout).expect("UTF-8");
        // config/flux holds Flux's own kinds: validated by the Flux test against its CRDs.
        if dir != "config/flux" {
            kubeconform(&dir.replace('/', "-"), &manifests);
        }
    }
}

/// The schemas have teeth: unknown fields, wrong types and unknown kinds are all refused.
#[test]
fn kubeconform_refuses_what_the_apiserver_would() {
    let bad = [
        (
            "wrong-type",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: a }\nspec: { replicas: two, selector: {}, template: {} }\n",
        ),
        (
            "unknown-field",
            "apiVersion: v1\nkind: Service\nmetadata: { name: a }\nspec: { colour: blue }\n",
        ),
        (
            "crd-unknown-field",
            "apiVersion: gco.galos.one/v1\nkind: GitCommit\nmetadata: { name: a }\nspec: { repository: { url: https://x/y.git }, colour: blue }\n",
        ),
        (
            "crd-bad-enum",
            "apiVersion: gco.galos.one/v1\nkind: GitCommit\nmetadata: { name: a }\nspec: { repository: { url: https://x/y.git }, writeMode: sideways }\n",
        ),
        (
            "unknown-kind",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: a }\n",
        ),
    ];
    for (what, manifest) in bad {
        let output = kubeconform_output(what, manifest);
        assert!(
            !output.status.success(),
            "{what} passed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn the_rendered_pods_meet_the_restricted_pod_security_standard() {
    let objects = yaml_documents(&template(&[])).expect("YAML");
    let deployments: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 2, "controller and webhook");
    for deployment in deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap_or("?");
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        for container in pod["containers"].as_array().expect("containers") {
            let security = &container["securityContext"];
            assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(security["capabilities"]["drop"], json!(["ALL"]), "{name}");
            assert!(container["resources"]["requests"].is_object(), "{name}");
        }
    }
    let webhook = objects
        .iter()
        .find(|o| {
            o["kind"] == "Deployment" && o["metadata"]["name"] == "gco-git-change-operator-webhook"
        })
        .expect("webhook Deployment");
    assert_eq!(webhook["spec"]["replicas"], 2);
    assert!(webhook["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"].is_object());
    let controller = objects
        .iter()
        .find(|o| {
            o["kind"] == "Deployment"
                && o["metadata"]["name"] == "gco-git-change-operator-controller"
        })
        .expect("controller Deployment");
    let args = &controller["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .expect("args")
            .contains(&json!("--leader-elect"))
    );
    let cache = &controller["spec"]["template"]["spec"]["volumes"][0];
    assert_eq!(cache["name"], "git-cache");
    assert!(cache["emptyDir"].is_object());
}

#[test]
fn helm_install_creates_every_object_in_a_real_apiserver() {
    let plane = ControlPlane::shared();
    let namespace = format!("gco-helm-{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = plane.client().await.expect("client");
        // The chart's optional NetworkPolicy for Flux lives in Flux's namespace.
        ensure_namespace(&client, "flux-system")
            .await
            .expect("flux-system");
    });
    let values = [
        "flux.enabled=true",
        "defaultPolicy.enabled=true",
        "defaultPolicy.name=helm-test-default",
        "defaultPolicy.spec.paths.allowedPrefixes[0]=clusters/",
        "controller.replicas=2",
        "metrics.dashboard.enabled=true",
    ];
    // The apiserver checks the pod templates against the restricted Pod Security Standard
    // and warns on every violation: the install must produce no such warning.
    run(plane.kubectl().args(["create", "namespace", &namespace])).expect("namespace");
    run(plane.kubectl().args([
        "label",
        "namespace",
        &namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    ]))
    .expect("label");
    let installed = run(tool("helm")
        .expect("helm")
        .arg("install")
        .arg("gco")
        .arg(chart())
        .args(["--namespace", &namespace])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig())
        .args(set_args(&values)))
    .expect("helm install");
    let warnings = String::from_utf8_lossy(&installed.stderr);
    assert!(!warnings.contains("PodSecurity"), "{warnings}");

    let manifest = run(tool("helm")
        .expect("helm")
        .args(["get", "manifest", "gco", "--namespace", &namespace])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig()))
    .expect("helm get manifest");
    let objects =
        yaml_documents(&String::from_utf8_lossy(&manifest.stdout)).expect("manifest YAML");
    let counts = kinds(&objects);
    for kind in [
        "Deployment",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "GitExportPolicy",
        "ConfigMap",
    ] {
        assert!(counts.contains_key(kind), "no {kind} installed: {counts:?}");
    }
    // Every object Helm recorded exists in the apiserver.
    assert_installed(plane, &objects);
    // The CRDs came from the chart's crds/ folder.
    for crd in gco_api::crd::all().into_iter().map(|(_, c)| c) {
        let name = crd.metadata.name.expect("CRD name");
        run(plane.kubectl().args(["get", "crd", &name])).expect("CRD installed by helm");
    }
    run(tool("helm")
        .expect("helm")
        .args(["uninstall", "gco", "--namespace", &namespace])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig()))
    .expect("helm uninstall");
    let left = run(plane.kubectl().args([
        "get",
        "validatingwebhookconfigurations,mutatingwebhookconfigurations,clusterroles",
        "-l",
        "app.kubernetes.io/instance=gco",
        "-o",
        "name",
    ]))
    .expect("list");
    assert!(
        left.stdout.is_empty(),
        "left behind: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}
