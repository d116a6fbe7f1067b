//! Every GitCommit example of the user documentation, pointed at a local repository, ends
//! Ready=True with the files it promises, against a real apiserver, real objects of every kind
//! it references (third-party CRDs included) and a real git server; and every dump, with those
//! of the kinds the PullRequest examples export, applies into a second control plane.
//!
//! One test in its own binary: the examples read fixed namespaces (`production`, `monitoring`,
//! …), so this controller watches every namespace and nothing else may run beside it.

use std::{collections::BTreeMap, time::Duration};

use gco_api::GitCommit;
use gco_tests::{
    controller::ControllerProcess,
    fixtures::{install_monitoring_crds, seeds},
    git::{GitDaemon, bare_repo, show},
    pki::Ca,
    scenario::{CONVERGE, condition},
    testenv::{ControlPlane, TEST_MANAGER, ensure_namespace, install_crds},
};
use kube::{
    Api, Client,
    api::{DynamicObject, GroupVersionKind, Patch, PatchParams},
};
use serde_json::{Value, json};

async fn apply(client: &Client, object: Value) {
    let gvk: GroupVersionKind = serde_json::from_value::<kube::api::TypeMeta>(object.clone())
        .map(|t| {
            let (group, version) = t
                .api_version
                .split_once('/')
                .unwrap_or(("", &t.api_version));
            GroupVersionKind::gvk(group, version, &t.kind)
        })
        .expect("typed object");
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .expect("known kind");
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

fn configmap(namespace: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: BTreeMap<_, _> = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name, "namespace": namespace }, "data": data })
}

/// Every object the examples reference, with test data.
async fn create_referenced_objects(client: &Client, tls_cert: &str) {
    for ns in [
        "production",
        "staging",
        "monitoring",
        "prod-1",
        "prod-2",
        "prod-3",
        "git-change-operator-system",
    ] {
        ensure_namespace(client, ns).await.expect("namespace");
    }
    install_monitoring_crds(client)
        .await
        .expect("monitoring CRDs");
    let objects = vec![
        configmap(
            "production",
            "app-config",
            &[("app.properties", "color=blue\n"), ("log-level", "info")],
        ),
        configmap("kube-system", "infra-config", &[("dns", "10.0.0.10")]),
        configmap("production", "current-config", &[("replicas", "3")]),
        configmap("staging", "expected-config", &[("replicas", "2")]),
        configmap(
            "git-change-operator-system",
            "operator-metrics",
            &[("prometheus-metrics", "gco_pushes_total 42\n")],
        ),
        configmap("prod-1", "app-config-1", &[("a", "1")]),
        configmap("prod-2", "app-config-2", &[("b", "2")]),
        configmap("prod-3", "app-config-3", &[("c", "3")]),
        configmap("production", "critical-config", &[("critical", "yes")]),
        configmap("production", "optional-config", &[("extra", "maybe")]),
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": { "name": "network-policies", "namespace": "production" },
                "spec": { "podSelector": {}, "policyTypes": ["Ingress"] } }),
        json!({ "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": { "name": "tls-certificates", "namespace": "production" },
                "stringData": { "tls.crt": tls_cert, "tls.key": "-----BEGIN PRIVATE KEY-----\nnot for git\n-----END PRIVATE KEY-----\n" } }),
        // Bound, as a volume controller leaves a claim: to a volume that exists only here.
        json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": { "name": "database-pvc", "namespace": "production",
                              "annotations": { "pv.kubernetes.io/bind-completed": "yes",
                                               "volume.kubernetes.io/storage-provisioner": "csi.example.com" } },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } },
                          "volumeName": "pvc-only-in-the-source-cluster" } }),
        json!({ "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": { "name": "app-rules", "namespace": "monitoring" },
                "spec": { "groups": [{ "name": "app", "rules": [{ "alert": "AppDown", "expr": "up == 0" }] }] } }),
        json!({ "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                "metadata": { "name": "api-service-monitor", "namespace": "production" },
                "spec": { "selector": { "matchLabels": { "app": "api" } }, "endpoints": [{ "port": "http" }] } }),
        json!({ "apiVersion": "v1", "kind": "Secret",
                "metadata": { "name": "alertmanager-config", "namespace": "monitoring" },
                "stringData": { "alertmanager.yml": "route:\n  receiver: team\n" } }),
    ];
    for object in objects.into_iter().chain(restore_kinds()) {
        apply(client, object).await;
    }
}

/// The kinds the PullRequest examples dump (a Deployment, a Service, an Ingress) and others a
/// controller or the apiserver fills in for the source cluster (an HPA, a Job, a LoadBalancer
/// Service with allocated node ports, an object with an owner).
fn restore_kinds() -> Vec<Value> {
    vec![
        json!({ "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": "web-app", "namespace": "production",
                              "annotations": { "deployment.kubernetes.io/revision": "3" } },
                "spec": { "replicas": 2, "selector": { "matchLabels": { "app": "web" } },
                          "template": { "metadata": { "labels": { "app": "web" } },
                                        "spec": { "containers": [{ "name": "web", "image": "nginx:1.27" }] } } } }),
        json!({ "apiVersion": "v1", "kind": "Service",
                "metadata": { "name": "api-service", "namespace": "production" },
                "spec": { "type": "LoadBalancer", "externalTrafficPolicy": "Local", "selector": { "app": "api" },
                          "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] } }),
        json!({ "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": { "name": "main-ingress", "namespace": "production" },
                "spec": { "rules": [{ "host": "app.example.com", "http": { "paths": [{ "path": "/", "pathType": "Prefix",
                          "backend": { "service": { "name": "api-service", "port": { "number": 80 } } } }] } }] } }),
        json!({ "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": { "name": "web-app", "namespace": "production" },
                "spec": { "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web-app" },
                          "minReplicas": 2, "maxReplicas": 5 } }),
        json!({ "apiVersion": "batch/v1", "kind": "Job",
                "metadata": { "name": "nightly-report", "namespace": "production" },
                "spec": { "template": { "spec": { "restartPolicy": "Never",
                          "containers": [{ "name": "report", "image": "busybox:1.36", "command": ["true"] }] } } } }),
        json!({ "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": { "name": "owned-config", "namespace": "production",
                              "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web-app",
                                                    "uid": "00000000-0000-0000-0000-000000000001" }] },
                "data": { "owned": "yes" } }),
    ]
}

/// A GitCommit, beside the examples, that dumps every object of [`restore_kinds`].
fn restore_gitcommit(namespace: &str, url: &str) -> Value {
    let references: Vec<Value> = restore_kinds()
        .iter()
        .map(|object| {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            json!({ "apiVersion": object["apiVersion"], "kind": kind, "name": name, "namespace": "production",
                    "strategy": "dump", "output": { "path": format!("restore/{}-{name}.yaml", kind.to_lowercase()) } })
        })
        .collect();
    json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "restore-kinds", "namespace": namespace },
            "spec": { "repository": { "url": url }, "resourceReferences": references } })
}

/// Every dumped object of `repos` (each `<name>.git`, every branch): the YAML files whose
/// documents are Kubernetes objects.
fn dumped_objects(repos: &std::path::Path) -> Vec<(String, String)> {
    let mut dumps = Vec::new();
    for entry in std::fs::read_dir(repos).expect("repos").flatten() {
        let repo = entry.path();
        let branches = gco_tests::git::git(
            &repo,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        );
        for branch in branches.lines() {
            for path in
                gco_tests::git::git(&repo, &["ls-tree", "-r", "--name-only", branch]).lines()
            {
                let Some(content) = show(&repo, branch, path) else {
                    continue;
                };
                let object: Option<Value> = serde_saphyr::from_str(&content).ok();
                let is_object = object.as_ref().is_some_and(|o| {
                    o["apiVersion"].is_string()
                        && o["kind"].is_string()
                        && o["metadata"]["name"].is_string()
                });
                if path.ends_with(".yaml") && is_object {
                    let repo = entry.file_name().to_string_lossy().into_owned();
                    dumps.push((format!("{repo}@{branch}:{path}"), content));
                }
            }
        }
    }
    dumps
}

/// Applies every dump, for real, into fresh namespaces of a second control plane, and checks
/// that nothing binds them to the first.
async fn dumps_restore_into_another_cluster(repos: &std::path::Path, work: &std::path::Path) {
    let dumps = dumped_objects(repos);
    let kinds: std::collections::BTreeSet<String> = dumps
        .iter()
        .filter_map(|(_, c)| serde_saphyr::from_str::<Value>(c).ok())
        .filter_map(|o| o["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in [
        "ConfigMap",
        "PersistentVolumeClaim",
        "NetworkPolicy",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "Job",
        "PrometheusRule",
        "ServiceMonitor",
    ] {
        assert!(kinds.contains(kind), "no {kind} dump among {kinds:?}");
    }
    let other = ControlPlane::start().expect("a second control plane");
    let client = other.client().await.expect("client");
    install_monitoring_crds(&client)
        .await
        .expect("monitoring CRDs");
    let folder = work.join("restore");
    std::fs::create_dir_all(&folder).expect("restore folder");
    for (index, (name, content)) in dumps.iter().enumerate() {
        for field in [
            "uid:",
            "resourceVersion:",
            "ownerReferences:",
            "clusterIP:",
            "nodePort:",
            "healthCheckNodePort:",
            "volumeName:",
            "pv.kubernetes.io/",
            "deployment.kubernetes.io/revision",
            "controller-uid",
        ] {
            assert!(!content.contains(field), "{name} keeps {field}:\n{content}");
        }
        let object: Value = serde_saphyr::from_str(content).expect("yaml");
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            ensure_namespace(&client, namespace)
                .await
                .expect("namespace");
        }
        let file = folder.join(format!("{index}.yaml"));
        std::fs::write(&file, content).expect("write dump");
        let applied = other.run_kubectl(&["apply", "-f", file.to_str().expect("utf-8 path")]);
        assert!(
            applied.is_ok(),
            "{name} does not apply elsewhere: {applied:?}\n{content}"
        );
    }
    // The claim waits for a volume of the new cluster instead of naming the old one's.
    let claim = other
        .run_kubectl(&[
            "get",
            "pvc",
            "database-pvc",
            "-n",
            "production",
            "-o",
            "jsonpath={.spec.volumeName}",
        ])
        .expect("claim restored");
    assert!(
        claim.stdout.is_empty(),
        "restored claim bound to {}",
        String::from_utf8_lossy(&claim.stdout)
    );
}

/// The files each example must have pushed (`DATE` stands for the run's `%Y%m%d`), and a
/// string each must contain.
fn expected_files(seed: &str) -> Vec<(&'static str, &'static str)> {
    match seed {
        "prod-cluster-sync" => vec![
            ("clusters/production/cluster-info.yaml", "production-east-1"),
            (
                "clusters/production/applications/app.properties",
                "color=blue",
            ),
            ("clusters/production/applications/log-level", "info"),
            (
                "clusters/production/infrastructure/infra-config.yaml",
                "name: infra-config",
            ),
            (
                "clusters/production/network-policies.yaml",
                "kind: NetworkPolicy",
            ),
        ],
        "drift-detection" => vec![
            ("reports/drift-summary.log", "=== Drift Detection Report"),
            (
                "snapshots/production/current-config-DATE.yaml",
                "name: current-config",
            ),
            (
                "snapshots/expected/staging-config-DATE.yaml",
                "name: expected-config",
            ),
        ],
        "disaster-recovery-backup" => vec![
            (
                "backup-metadata/DATE/cluster-info.yaml",
                "backup_type: \"full\"",
            ),
            (
                "backups/DATE/configmaps/app-config.yaml",
                "name: app-config",
            ),
            (
                "backups/DATE/certificates/tls.crt",
                "-----BEGIN CERTIFICATE-----",
            ),
            (
                "backups/DATE/storage/database-pvc.yaml",
                "kind: PersistentVolumeClaim",
            ),
        ],
        "prometheus-config-backup" => vec![
            ("prometheus/rules/app-rules.yaml", "AppDown"),
            (
                "prometheus/service-monitors/api-service.yaml",
                "kind: ServiceMonitor",
            ),
            ("alertmanager/config.yml", "receiver: team"),
        ],
        "batch-config-update" => vec![
            ("batch-info.yaml", "resources_count: 50"),
            ("batch-1/prod-1/a", "1"),
            ("batch-1/prod-2/b", "2"),
            ("batch-1/prod-3/c", "3"),
        ],
        "resilient-sync" => vec![
            ("sync-status/last-attempt.yaml", "in-progress"),
            ("critical/config.yaml", "name: critical-config"),
            ("optional/extra", "maybe"),
        ],
        "metrics-collection" => vec![
            (
                "metrics/DATE/operator-performance.log",
                "reconciliation_duration",
            ),
            ("metrics/DATE/prometheus.txt", "gco_pushes_total 42"),
        ],
        other => panic!("no expectations for seed {other}"),
    }
}

#[tokio::test]
async fn every_seed_gitcommit_ends_ready_with_its_files() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");
    install_crds(&client).await.expect("CRDs");
    let tls_cert = Ca::new("seed-ca")
        .expect("ca")
        .server(&["app.example.com"])
        .expect("cert")
        .cert_pem;
    create_referenced_objects(&client, &tls_cert).await;
    let namespace = plane.namespace(&client, "seeds").await.expect("namespace");
    let work = plane.scratch_dir("seeds").expect("work dir");
    let repos = work.join("repos");
    std::fs::create_dir_all(&repos).expect("repos folder");
    let daemon = GitDaemon::start(&repos);
    // The examples' repositories are on github.com over https; here each is a local repository
    // over git://, which a policy must allow.
    apply(
        &client,
        json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": "seeds-allow-git-daemon" }, "spec": { "allowedSchemes": ["git"] } }),
    )
    .await;

    let mut controller =
        ControllerProcess::start(plane, &work, "seeds-controller", &[]).expect("controller");
    let gitcommit_seeds: Vec<_> = seeds()
        .expect("seeds")
        .into_iter()
        .filter(|s| s.kind == "GitCommit")
        .collect();
    assert_eq!(gitcommit_seeds.len(), 7);
    for seed in &gitcommit_seeds {
        let target = seed.namespace().unwrap_or(&namespace).to_owned();
        for secret in ["git-credentials", "backup-credentials"] {
            apply(&client, json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": secret, "namespace": target },
                "stringData": { "username": "git", "password": "unused-by-git-daemon" } })).await;
        }
        bare_repo(&repos, &format!("{}.git", seed.name));
        let mut object = seed.value.clone();
        object["metadata"]["namespace"] = json!(target);
        object["spec"]["repository"]["url"] = json!(daemon.url(&format!("{}.git", seed.name)));
        apply(&client, object).await;
    }

    let wait = |name: String, namespace: String, reason: &'static str, status: &'static str| {
        let client = client.clone();
        async move {
            let api: Api<GitCommit> = Api::namespaced(client, &namespace);
            let deadline = tokio::time::Instant::now() + CONVERGE;
            loop {
                let object = api.get(&name).await.expect("get");
                if condition(&object, "Ready").is_some_and(|(s, r)| s == status && r == reason) {
                    return object;
                }
                if tokio::time::Instant::now() > deadline {
                    return object;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };

    for seed in &gitcommit_seeds {
        let target = seed.namespace().unwrap_or(&namespace).to_owned();
        if seed.name == "prometheus-config-backup" {
            // alertmanager.yml usually holds receiver credentials: refused until a policy allows it.
            let denied = wait(seed.name.clone(), target.clone(), "PolicyDenied", "False").await;
            let message = denied
                .status
                .as_ref()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            assert_eq!(
                condition(&denied, "Stalled").map(|c| c.1).as_deref(),
                Some("PolicyDenied"),
                "{message}\n{}",
                controller.log()
            );
            assert!(message.contains("spec.secrets.allowedFields"), "{message}");
            assert!(
                show(
                    &repos.join("prometheus-config-backup.git"),
                    "main",
                    "alertmanager/config.yml"
                )
                .is_none()
            );
            apply(
                &client,
                json!({ "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
                "metadata": { "name": "seeds-allow-alertmanager" },
                "spec": { "secrets": { "allowedFields": ["alertmanager.yml"] } } }),
            )
            .await;
        }
        let ready = wait(seed.name.clone(), target, "Succeeded", "True").await;
        let status = ready.status.clone().unwrap_or_default();
        assert_eq!(
            condition(&ready, "Ready"),
            Some(("True".into(), "Succeeded".into())),
            "{}: {:?}\n{}",
            seed.name,
            status.message,
            controller.log()
        );
        let date = status
            .run
            .as_ref()
            .expect("run recorded")
            .time
            .0
            .strftime("%Y%m%d")
            .to_string();
        let branch = ready.spec.repository.branch();
        let repo = repos.join(format!("{}.git", seed.name));
        for (path, needle) in expected_files(&seed.name) {
            let path = path.replace("DATE", &date);
            let content = show(&repo, branch, &path)
                .unwrap_or_else(|| panic!("{}: {path} not on {branch}", seed.name));
            assert!(
                content.contains(needle),
                "{}: {path} lacks {needle:?}:\n{content}",
                seed.name
            );
        }
        assert_eq!(
            status.commit_sha,
            gco_tests::git::tip(&repo, branch),
            "{}: status names the tip",
            seed.name
        );
    }
    let restore = restore_gitcommit(&namespace, &daemon.url("restore-kinds.git"));
    bare_repo(&repos, "restore-kinds.git");
    apply(&client, restore).await;
    let ready = wait(
        "restore-kinds".into(),
        namespace.clone(),
        "Succeeded",
        "True",
    )
    .await;
    assert_eq!(
        condition(&ready, "Ready"),
        Some(("True".into(), "Succeeded".into())),
        "{:?}\n{}",
        ready.status.and_then(|s| s.message),
        controller.log()
    );
    dumps_restore_into_another_cluster(&repos, &work).await;

    // The private key next to the exported certificate never reached a repository.
    let backup = repos.join("disaster-recovery-backup.git");
    let everything = gco_tests::git::git(&backup, &["log", "-p", "--all"]);
    assert!(!everything.contains("not for git"), "tls.key leaked");
    controller.kill();
}
