//! Every GitCommit example of the user documentation, pointed at a local repository, ends
//! Ready=True with the files it promises, against a real apiserver, real objects of every kind
//! it references (third-party CRDs included) and a real git server.
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
        json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": { "name": "database-pvc", "namespace": "production" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } } }),
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
    for object in objects {
        apply(client, object).await;
    }
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
    // The private key next to the exported certificate never reached a repository.
    let backup = repos.join("disaster-recovery-backup.git");
    let everything = gco_tests::git::git(&backup, &["log", "-p", "--all"]);
    assert!(!everything.contains("not for git"), "tls.key leaked");
    controller.kill();
}
