//! What a restore-ready dump leaves out, kind by kind (docs/user-guide.md, "Restore-ready
//! dumps"), and what it must keep.

use serde_json::{Value, json};

use super::clean_for_apply;

fn object(api_version: &str, kind: &str, metadata: Value, spec: Value) -> Value {
    json!({ "apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec,
            "status": { "anything": true } })
}

#[test]
fn owner_references_and_kubernetes_finalizers_are_left_out_other_finalizers_kept() {
    let cleaned = clean_for_apply(&object(
        "v1",
        "ConfigMap",
        json!({ "name": "a", "namespace": "prod", "uid": "u",
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "x" }],
                "finalizers": ["kubernetes.io/pvc-protection", "service.kubernetes.io/load-balancer-cleanup",
                               "batch.kubernetes.io/job-tracking", "foregroundDeletion", "example.com/keep"] }),
        json!({}),
    ));
    assert_eq!(
        cleaned["metadata"],
        json!({ "name": "a", "namespace": "prod", "finalizers": ["example.com/keep"] })
    );
    assert!(cleaned.get("status").is_none());
}

#[test]
fn a_service_loses_its_allocated_addresses_but_a_headless_one_stays_headless() {
    let service =
        |spec: Value| clean_for_apply(&object("v1", "Service", json!({ "name": "s" }), spec));
    let cleaned = service(json!({
        "type": "LoadBalancer", "clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"],
        "healthCheckNodePort": 31000, "ipFamilies": ["IPv4"],
        "ports": [{ "port": 80, "targetPort": 8080, "nodePort": 30080 }],
    }));
    assert_eq!(
        cleaned["spec"],
        json!({ "type": "LoadBalancer", "ipFamilies": ["IPv4"],
                "ports": [{ "port": 80, "targetPort": 8080 }] })
    );
    let headless =
        service(json!({ "clusterIP": "None", "clusterIPs": ["None"], "ports": [{ "port": 80 }] }));
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let node_port = service(json!({ "type": "NodePort", "clusterIP": "10.0.0.8",
                                    "ports": [{ "port": 80, "nodePort": 30080 }] }));
    assert_eq!(
        node_port["spec"]["ports"][0]["nodePort"], 30080,
        "chosen, usually"
    );
    assert!(node_port["spec"].get("clusterIP").is_none());
}

#[test]
fn a_claim_is_not_bound_to_the_source_clusters_volume() {
    let cleaned = clean_for_apply(&object(
        "v1",
        "PersistentVolumeClaim",
        json!({ "name": "data", "annotations": {
            "pv.kubernetes.io/bind-completed": "yes",
            "pv.kubernetes.io/bound-by-controller": "yes",
            "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
            "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
            "volume.kubernetes.io/selected-node": "node-1",
            "volume.beta.kubernetes.io/storage-class": "fast",
            "volume.beta.kubernetes.io/mount-options": "noatime",
            "team": "storage" } }),
        json!({ "volumeName": "pvc-1234", "storageClassName": "standard",
                "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } }),
    ));
    assert!(cleaned["spec"].get("volumeName").is_none());
    assert_eq!(cleaned["spec"]["storageClassName"], "standard");
    assert_eq!(
        cleaned["metadata"]["annotations"],
        json!({ "team": "storage", "volume.beta.kubernetes.io/storage-class": "fast",
                "volume.beta.kubernetes.io/mount-options": "noatime" }),
        "what the user chose is kept"
    );
}

#[test]
fn a_deployment_loses_its_rollout_revision_only() {
    let cleaned = clean_for_apply(&object(
        "apps/v1",
        "Deployment",
        json!({ "name": "web", "annotations": { "deployment.kubernetes.io/revision": "7" } }),
        json!({ "replicas": 2, "selector": { "matchLabels": { "app": "web" } } }),
    ));
    assert!(cleaned["metadata"].get("annotations").is_none());
    assert_eq!(
        cleaned["spec"]["selector"],
        json!({ "matchLabels": { "app": "web" } })
    );
}

#[test]
fn a_rollout_restart_is_not_configuration_other_template_annotations_are() {
    let template = |annotations: Value| json!({ "template": { "metadata": { "annotations": annotations }, "spec": {} } });
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        let cleaned = clean_for_apply(&object(
            "apps/v1",
            kind,
            json!({ "name": "web" }),
            template(json!({ "kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z" })),
        ));
        assert!(
            cleaned["spec"]["template"]["metadata"]
                .get("annotations")
                .is_none(),
            "{kind}: {cleaned}"
        );
    }
    let kept = clean_for_apply(&object(
        "apps/v1",
        "Deployment",
        json!({ "name": "web" }),
        template(
            json!({ "kubectl.kubernetes.io/restartedAt": "x", "prometheus.io/scrape": "true" }),
        ),
    ));
    assert_eq!(
        kept["spec"]["template"]["metadata"]["annotations"],
        json!({ "prometheus.io/scrape": "true" })
    );
}

#[test]
fn a_job_loses_the_selector_and_labels_made_from_its_uid_unless_it_chose_them() {
    let generated = json!({
        "selector": { "matchLabels": { "batch.kubernetes.io/controller-uid": "u" } },
        "template": { "metadata": { "labels": {
            "batch.kubernetes.io/controller-uid": "u", "controller-uid": "u",
            "batch.kubernetes.io/job-name": "j", "job-name": "j", "app": "batch" } } },
    });
    let cleaned = clean_for_apply(&object(
        "batch/v1",
        "Job",
        json!({ "name": "j" }),
        generated.clone(),
    ));
    assert!(cleaned["spec"].get("selector").is_none());
    assert_eq!(
        cleaned["spec"]["template"]["metadata"]["labels"],
        json!({ "batch.kubernetes.io/job-name": "j", "job-name": "j", "app": "batch" })
    );
    let mut manual = generated;
    manual["manualSelector"] = json!(true);
    let kept = clean_for_apply(&object(
        "batch/v1",
        "Job",
        json!({ "name": "j" }),
        manual.clone(),
    ));
    assert_eq!(kept["spec"], manual);
}

#[test]
fn kinds_of_other_groups_keep_their_spec() {
    // A CRD kind named like a core kind is not cleaned as one.
    let spec = json!({ "clusterIP": "10.0.0.9", "volumeName": "v" });
    for (api_version, kind) in [
        ("example.com/v1", "Service"),
        ("example.com/v1", "PersistentVolumeClaim"),
    ] {
        let cleaned = clean_for_apply(&object(
            api_version,
            kind,
            json!({ "name": "x" }),
            spec.clone(),
        ));
        assert_eq!(cleaned["spec"], spec);
    }
}

#[test]
fn a_pod_is_not_pinned_to_the_source_clusters_node() {
    let cleaned = clean_for_apply(&object(
        "v1",
        "Pod",
        json!({ "name": "p" }),
        json!({ "nodeName": "node-1", "containers": [] }),
    ));
    assert_eq!(cleaned["spec"], json!({ "containers": [] }));
}

#[test]
fn a_job_without_a_spec_does_not_panic() {
    let job = json!({ "apiVersion": "batch/v1", "kind": "Job",
                      "metadata": { "name": "j", "labels": { "controller-uid": "u", "app": "a" } } });
    let cleaned = clean_for_apply(&job);
    assert_eq!(cleaned["metadata"]["labels"], json!({ "app": "a" }));
}
