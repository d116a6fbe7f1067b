//! The operator as a cluster admin installs it, on a real node (`hack/node.sh`): the shipped
//! chart and `config/default` with the controller and webhook images built from the release
//! binaries, pods run by a kubelet under the restricted Pod Security level, the webhook called
//! by the apiserver through its Service, and commits pushed from a pod to a git server on the
//! host side of the node's veth.
//!
//! The tests share one node and run one at a time: `kubectl delete -k config/default` removes
//! the CRDs every install shares.

use std::time::{Duration, Instant};

use gco_api::GitCommit;
use gco_tests::{
    flux::{HttpsSink, NotificationController, install_crds_with},
    git::{show, tip},
    install::{CONVERGE, Install, component, pod_ready, refusal, restricted_namespace},
    node::Node,
    testenv::TEST_MANAGER,
    workspace_root,
};
use k8s_openapi::api::{
    admissionregistration::v1::ValidatingWebhookConfiguration,
    core::v1::{ConfigMap, Pod},
};
use kube::{
    Api,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

/// One test at a time (see the module documentation).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn the_chart_installs_on_a_node_and_its_pods_export_to_a_git_server() {
    let _serial = SERIAL.lock().await;
    let install = Install::new("install").await.expect("install fixture");
    install.node.import_operator_images("t1").expect("images");
    install.helm("install", "t1").expect("helm install");

    // Every pod Ready, the standby controller included: readiness comes from the caches, not
    // from the Lease, or `helm upgrade` could never finish (maxUnavailable 0).
    let pods = install.wait_pods("t1", 4).await.expect("pods");
    let controllers = pods.iter().filter(|p| component(p) == "controller").count();
    assert_eq!(controllers, 2, "two controller replicas, both Ready");
    let leader = install.leader().await.expect("leader");
    assert!(
        pods.iter()
            .any(|p| p.metadata.name.as_deref() == Some(leader.as_str())),
        "the Lease holder {leader} is one of the release's pods"
    );

    // The restricted level is enforced where the pods run: a privileged pod is refused.
    let privileged = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "privileged" },
        "spec": { "containers": [{ "name": "c", "image": "gco.local/busybox:1",
                                   "securityContext": { "privileged": true } }] }
    });
    let refused = Api::<Pod>::namespaced(install.client.clone(), &install.namespace)
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &serde_json::from_value(privileged).expect("pod"),
        )
        .await;
    match refused {
        Err(kube::Error::Api(status)) => assert!(
            status.message.contains("violates PodSecurity \"restricted"),
            "refused for another reason: {}",
            status.message
        ),
        other => panic!("a privileged pod was not refused: {other:?}"),
    }

    // The apiserver calls the webhook through its Service (no URL), and the in-cluster webhook
    // refuses a hostile spec naming the field.
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(install.client.clone());
    let validating = webhooks
        .get(&format!(
            "{}-git-change-operator-validating",
            install.release
        ))
        .await
        .expect("validating webhook configuration");
    for webhook in validating.webhooks.unwrap_or_default() {
        let config = webhook.client_config;
        assert!(config.url.is_none(), "{}: called by URL", webhook.name);
        let service = config.service.expect("called through a Service");
        assert_eq!(service.namespace, install.namespace);
    }
    let hostile = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": "dot-segment", "namespace": install.tenant },
        "spec": { "repository": { "url": "https://github.com/company/../other-team/repo.git" },
                  "files": [{ "path": "x.txt", "content": "x" }] }
    });
    let message = refusal(&install.client, &install.tenant, &hostile)
        .await
        .expect("refusal");
    assert!(
        message.contains("spec.repository.url") && message.contains("repository-url"),
        "the refusal names the field and the rule: {message}"
    );

    // A ConfigMap and a TLS Secret's certificate reach a git server outside the node.
    install.allow_git_scheme().await.expect("policy");
    install
        .put_configmap("app", "app.properties", "color=blue\n")
        .await
        .expect("configmap");
    install
        .put_tls_secret("tls", "CERT-1\n")
        .await
        .expect("secret");
    install
        .create_gitcommit("export", true)
        .await
        .expect("gitcommit");
    install
        .wait_file("config/app.properties", "color=blue\n")
        .await
        .expect("configmap exported");
    install
        .wait_file("certificates/tls.crt", "CERT-1\n")
        .await
        .expect("certificate exported");
    assert!(
        show(
            &install.repos.join("repo.git"),
            "main",
            "certificates/tls.key"
        )
        .is_none(),
        "only tls.crt is exported"
    );

    // A rotated certificate is exported again under the shipped least-privilege RBAC (`get`
    // on Secrets, no list or watch): the controller looks at the referenced Secrets by name
    // (--secret-poll-seconds, 60 s by default), so this takes up to a minute.
    let rotated = Instant::now();
    install
        .put_tls_secret("tls", "CERT-2\n")
        .await
        .expect("rotate");
    install
        .wait_file("certificates/tls.crt", "CERT-2\n")
        .await
        .expect("the rotated certificate is exported");
    eprintln!(
        "the rotated tls.crt was exported {:?} after the rotation",
        rotated.elapsed()
    );

    install.uninstall().expect("helm uninstall");
}

#[tokio::test]
async fn helm_upgrade_to_a_new_tag_completes_and_the_new_pods_take_over() {
    let _serial = SERIAL.lock().await;
    let install = Install::new("upgrade").await.expect("install fixture");
    install
        .node
        .import_operator_images("u1")
        .expect("images u1");
    install
        .node
        .import_operator_images("u2")
        .expect("images u2");
    install.helm("install", "u1").expect("helm install");
    install.wait_pods("u1", 4).await.expect("pods at u1");
    install.allow_git_scheme().await.expect("policy");
    // Append mode: a run pushed twice (the new leader redoing what the old one pushed) or lost
    // shows in the file itself.
    install
        .put_configmap("app", "app.properties", "v=0\n")
        .await
        .expect("configmap");
    install
        .create_gitcommit_mode("export", false, "append")
        .await
        .expect("gitcommit");
    install
        .wait_file_where("config/app.properties", "v=0", |c| c.contains("v=0"))
        .await
        .expect("exported before the upgrade");
    let commits_before = install.commits();

    // Changes keep coming while the release rolls: one every 400 ms, 25 in all (10 s).
    let writer = {
        let client = install.client.clone();
        let tenant = install.tenant.clone();
        tokio::spawn(async move {
            let api: Api<ConfigMap> = Api::namespaced(client, &tenant);
            for i in 1..=25 {
                let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": { "name": "app" },
                                 "data": { "app.properties": format!("v={i}\n") } });
                api.patch(
                    "app",
                    &PatchParams::apply(TEST_MANAGER).force(),
                    &Patch::Apply(&cm),
                )
                .await
                .expect("change the ConfigMap");
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        })
    };
    // maxSurge 1 / maxUnavailable 0: this only finishes when each new pod becomes Ready while
    // an old one holds the Lease.
    let started = Instant::now();
    install.helm("upgrade", "u2").expect("helm upgrade");
    eprintln!("helm upgrade --wait took {:?}", started.elapsed());
    writer.await.expect("writer");
    let pods = install.wait_pods("u2", 4).await.expect("pods at u2");
    let deadline = Instant::now() + CONVERGE;
    loop {
        let leader = install.leader().await.expect("leader");
        if pods
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(leader.as_str()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Lease stays with {leader}, not a pod of the new tag"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The last change reaches the branch; every value appended at most once and in order
    // (values overwritten before a run saw them are legitimately skipped).
    let content = install
        .wait_file_where("config/app.properties", "v=25", |c| c.contains("v=25\n"))
        .await
        .expect("exported after the upgrade");
    let values: Vec<u32> = content
        .lines()
        .filter_map(|line| line.strip_prefix("v="))
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "a run was duplicated or reordered across the hand-over: {values:?}"
    );
    assert_eq!(values.first(), Some(&0));
    assert_eq!(values.last(), Some(&25));
    assert_eq!(
        install.commits(),
        commits_before + values.len() - 1,
        "one commit per appended value: {values:?}"
    );
    eprintln!("appended across the upgrade: {values:?}");
    install.uninstall().expect("helm uninstall");
}

#[tokio::test]
async fn deleting_the_leader_pod_hands_over_to_the_standby_within_the_lease_duration() {
    let _serial = SERIAL.lock().await;
    let install = Install::new("failover").await.expect("install fixture");
    install.node.import_operator_images("t1").expect("images");
    install.helm("install", "t1").expect("helm install");
    let pods = install.wait_pods("t1", 4).await.expect("pods");
    install.export_app("v=1\n").await.expect("first export");

    let leader = install.leader().await.expect("leader");
    let standby = pods
        .iter()
        .filter(|p| component(p) == "controller")
        .filter_map(|p| p.metadata.name.clone())
        .find(|name| *name != leader)
        .expect("a standby controller");
    let pods_api: Api<Pod> = Api::namespaced(install.client.clone(), &install.namespace);
    let deleted = Instant::now();
    // Grace 0 still sends SIGTERM first (the kubelet's minimum grace), so the leader may
    // release the Lease on its way out; at worst the Lease expires after its duration.
    pods_api
        .delete(
            &leader,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .expect("delete the leader");
    let lease_duration = Duration::from_secs(15);
    let holder = loop {
        let holder = install.leader().await.expect("leader");
        if holder != leader {
            break holder;
        }
        assert!(
            deleted.elapsed() < lease_duration + Duration::from_secs(10),
            "the deleted leader {leader} still holds the Lease {:?} after the delete",
            deleted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // The standby usually wins; the Deployment's replacement pod may, when it starts between
    // two of the standby's attempts. Either way a live replica of this release leads.
    let current = pods_api
        .get_opt(&holder)
        .await
        .expect("get the new leader")
        .unwrap_or_else(|| panic!("the Lease holder {holder} is not a pod"));
    assert!(
        current.metadata.deletion_timestamp.is_none() && component(&current) == "controller",
        "the Lease went to {holder}, which is not a live controller pod"
    );
    eprintln!(
        "{} ({holder}) took over {:?} after the delete",
        if holder == standby {
            "the standby"
        } else {
            "the replacement pod"
        },
        deleted.elapsed()
    );
    install
        .put_configmap("app", "app.properties", "v=2\n")
        .await
        .expect("configmap");
    install
        .wait_file("config/app.properties", "v=2\n")
        .await
        .expect("the new leader exports the next change");
    install.uninstall().expect("helm uninstall");
}

#[tokio::test]
async fn two_sharded_releases_each_reconcile_only_their_shard_under_their_own_lease() {
    let _serial = SERIAL.lock().await;
    let install = Install::new("shards").await.expect("install fixture");
    install.node.import_operator_images("t1").expect("images");
    // Two installs of the chart side by side in one namespace, as a cluster admin shards.
    for shard in ["a", "b"] {
        let selector = format!("controller.watchLabelSelector=shard={shard}");
        let lease = format!("controller.leaderElectionId=gco-shard-{shard}");
        install
            .helm_release(
                "install",
                &format!("shard-{shard}"),
                "t1",
                &[selector.as_str(), lease.as_str()],
            )
            .unwrap_or_else(|e| panic!("helm install shard-{shard}: {e:#}"));
    }
    install.allow_git_scheme().await.expect("policy");
    install
        .put_configmap("app", "app.properties", "x=1\n")
        .await
        .expect("configmap");
    let api: Api<GitCommit> = Api::namespaced(install.client.clone(), &install.tenant);
    for shard in ["a", "b", "c"] {
        let object: GitCommit = serde_json::from_value(json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": format!("export-{shard}"), "labels": { "shard": shard } },
            "spec": {
                "repository": { "url": install.daemon.url("repo.git") },
                "commit": { "message": format!("shard {shard}") },
                "resourceReferences": [{
                    "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                    "strategy": "fields", "output": { "path": format!("{shard}/") }
                }]
            }
        }))
        .expect("gitcommit");
        api.create(&PostParams::default(), &object)
            .await
            .expect("create");
    }
    install
        .wait_file("a/app.properties", "x=1\n")
        .await
        .expect("shard a exported");
    install
        .wait_file("b/app.properties", "x=1\n")
        .await
        .expect("shard b exported");

    // Each release holds its own Lease, and only its own shard's object reached its log.
    for (shard, other) in [("a", "b"), ("b", "a")] {
        let lease = install
            .lease()
            .get(&format!("gco-shard-{shard}"))
            .await
            .unwrap_or_else(|e| panic!("Lease of shard {shard}: {e}"));
        let holder = lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default();
        assert!(
            holder.starts_with(&format!("shard-{shard}-")),
            "shard {shard}'s Lease is held by {holder}"
        );
        let logs = install
            .node
            .run_kubectl(&[
                "logs",
                "-n",
                &install.namespace,
                "-l",
                &format!("app.kubernetes.io/instance=shard-{shard},app.kubernetes.io/component=controller"),
                "--tail=-1",
            ])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .expect("logs");
        assert!(
            logs.contains(&format!("\"name\":\"export-{shard}\"")),
            "shard {shard} did not log its object:\n{logs}"
        );
        for foreign in [other, "c"] {
            assert!(
                !logs.contains(&format!("\"name\":\"export-{foreign}\"")),
                "shard {shard} reconciled export-{foreign}:\n{logs}"
            );
        }
    }
    // No shard selects `shard=c`: it is never reconciled.
    let unowned = api.get("export-c").await.expect("export-c");
    assert!(
        unowned.status.is_none_or(|s| s.conditions.is_empty()),
        "export-c was reconciled by some shard"
    );
    assert!(
        show(&install.repos.join("repo.git"), "main", "c/app.properties").is_none(),
        "export-c reached the branch"
    );
    for shard in ["a", "b"] {
        let mut helm = install.node.helm().expect("helm");
        helm.args([
            "uninstall",
            &format!("shard-{shard}"),
            "--namespace",
            &install.namespace,
            "--wait",
        ]);
        gco_tests::tools::run(&mut helm).expect("helm uninstall");
    }
}

#[tokio::test]
async fn events_of_the_in_cluster_controller_reach_slack_through_flux_by_service_name() {
    let _serial = SERIAL.lock().await;
    let install = Install::new("flux").await.expect("install fixture");
    let node = install.node;
    let work = node.scratch_dir("flux").expect("work dir");
    install_crds_with(|| node.kubectl(), &work.join("crds")).expect("Flux CRDs");
    let sink = HttpsSink::start().await.expect("HTTPS sink");
    // Flux's notification-controller runs on the host side of the node's veth, behind the
    // Service the chart's default flux.eventsAddr names:
    // notification-controller.flux-system.svc.cluster.local. -> kube-proxy -> the host.
    let notification = NotificationController::start_with(node.kubeconfig(), &node.host_ip, &work)
        .expect("notification-controller");
    let service = format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{ name: flux-system }}
---
apiVersion: v1
kind: Service
metadata: {{ name: notification-controller, namespace: flux-system }}
spec:
  ports: [{{ name: http, port: 80, targetPort: {port} }}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: notification-controller-host
  namespace: flux-system
  labels: {{ kubernetes.io/service-name: notification-controller }}
addressType: IPv4
endpoints: [{{ addresses: ["{host}"] }}]
ports: [{{ name: http, port: {port}, protocol: TCP }}]
---
apiVersion: v1
kind: Secret
metadata: {{ name: slack-ca, namespace: {tenant} }}
stringData:
  ca.crt: |
    {ca}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{ name: slack, namespace: {tenant} }}
spec:
  type: slack
  address: {address}
  channel: gitops
  certSecretRef: {{ name: slack-ca }}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{ name: git-change-operator, namespace: {tenant} }}
spec:
  providerRef: {{ name: slack }}
  eventSeverity: info
  eventSources:
    - {{ kind: GitCommit, name: "*" }}
"#,
        port = notification.events_port(),
        host = node.host_ip,
        tenant = install.tenant,
        ca = sink.ca_pem().replace('\n', "\n    "),
        address = sink.url("services/T000/B000/XXXX"),
    );
    let file = work.join("flux-objects.yaml");
    std::fs::write(&file, service).expect("write");
    node.run_kubectl(&["apply", "-f", &file.display().to_string()])
        .expect("Service, Provider and Alert");

    node.import_operator_images("t1").expect("images");
    install
        .helm_release("install", &install.release, "t1", &["flux.enabled=true"])
        .expect("helm install with flux.enabled");
    install.wait_pods("t1", 3).await.expect("pods");
    install.export_app("color=blue\n").await.expect("exported");
    let sha = tip(&install.repos.join("repo.git"), "main").expect("a commit on main");

    // The push reaches the Slack-style sink: from the pod, by Service DNS name, through Flux.
    let author = format!("gitcommit/export.{}", install.tenant);
    let deadline = Instant::now() + CONVERGE;
    let message = loop {
        let found = sink.received().into_iter().find(|payload| {
            payload.to_string().contains(&author) && payload.to_string().contains(&sha)
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no Slack message for {author} at {sha}; received {:?}\n--- notification-controller:\n{}\n--- controller:\n{}",
            sink.received(),
            notification.log(),
            install.logs("controller")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(message["channel"], "gitops", "{message}");
    install.uninstall().expect("helm uninstall");
}

#[tokio::test]
async fn config_default_applies_and_deletes_without_leftovers() {
    let _serial = SERIAL.lock().await;
    let node = Node::shared();
    let client = node.client().await.expect("client");
    node.import_operator_images("k1").expect("images");
    // The shipped kustomization, with only the image tag overridden (as its comment tells
    // users to pin it).
    let overlay = node.scratch_dir("kustomize").expect("overlay");
    // Kustomize takes no absolute path: reach config/default from the overlay through `..`.
    let up = "../".repeat(overlay.components().count() - 1);
    let base = format!(
        "{up}{}",
        workspace_root()
            .join("config/default")
            .strip_prefix("/")
            .expect("an absolute workspace")
            .display()
    );
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\n\
             images:\n  - name: ghcr.io/galos/git-change-operator-controller\n    newTag: k1\n  \
             - name: ghcr.io/galos/git-change-operator-webhook\n    newTag: k1\n",
            base
        ),
    )
    .expect("write the overlay");
    let namespace = "git-change-operator-system";
    let rendered = node
        .run_kubectl(&["kustomize", &overlay.display().to_string()])
        .expect("kubectl kustomize");
    let objects: Vec<Value> =
        gco_tests::tools::yaml_documents(&String::from_utf8_lossy(&rendered.stdout))
            .expect("parse");
    node.run_kubectl(&[
        "apply",
        "--server-side",
        "-k",
        &overlay.display().to_string(),
    ])
    .expect("kubectl apply -k");
    restricted_namespace(&client, namespace)
        .await
        .expect("restricted");
    // Pods were admitted before the label: restart them under it so they prove they run
    // restricted.
    node.run_kubectl(&["rollout", "restart", "deployment", "-n", namespace])
        .expect("restart");
    let deployments: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(deployments.len(), 2, "the controller and the webhook");
    for deployment in deployments {
        node.run_kubectl(&[
            "rollout",
            "status",
            "deployment",
            deployment,
            "-n",
            namespace,
            "--timeout=180s",
        ])
        .unwrap_or_else(|e| panic!("{deployment} did not roll out: {e:#}"));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let listed = pods.list(&ListParams::default()).await.expect("pods");
    let ready = listed.items.iter().filter(|p| pod_ready(p)).count();
    assert!(ready >= 4, "controller and webhook pods Ready: {ready}");

    // The same install works: the webhook admits, the controller exports (it watches every
    // namespace; the fixture's tenant namespace and git daemon serve here).
    let tenant = Install::new("kustomize").await.expect("tenant fixture");
    tenant.allow_git_scheme().await.expect("policy");
    tenant
        .put_configmap("app", "app.properties", "from=kustomize\n")
        .await
        .expect("configmap");
    tenant
        .create_gitcommit("export", false)
        .await
        .expect("gitcommit");
    tenant
        .wait_file("config/app.properties", "from=kustomize\n")
        .await
        .expect("exported by the kustomize install");

    node.run_kubectl(&[
        "delete",
        "-k",
        &overlay.display().to_string(),
        "--wait=true",
    ])
    .expect("kubectl delete -k");
    let mut leftovers = Vec::new();
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut get = node.kubectl();
        get.args(["get", kind, name, "--ignore-not-found", "-o", "name"]);
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            get.args(["-n", ns]);
        }
        let out = gco_tests::tools::run(&mut get).expect("kubectl get");
        if !out.stdout.is_empty() {
            leftovers.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        }
    }
    assert!(leftovers.is_empty(), "kubectl delete -k left {leftovers:?}");
    // Nothing the operator created at run time stays either (the webhook's TLS Secret and
    // the Lease live in the deleted namespace).
    let gone = node
        .run_kubectl(&[
            "get",
            "namespace",
            namespace,
            "--ignore-not-found",
            "-o",
            "name",
        ])
        .expect("kubectl get namespace");
    assert!(gone.stdout.is_empty(), "the namespace is gone");
}
