//! The PullRequest example of the seed documentation (`argocd-app-sync`) end to end: pointed at
//! a real forge (Gitea, provider `gitea`), it opens its pull request with the referenced
//! Deployment, Service and Ingress, and Flux hears about it.

use std::time::Duration;

use gco_tests::{
    forge::{create, is_ready, number, wait, world},
    testenv::TEST_MANAGER,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

/// Applies `object` (a namespaced built-in kind) with server-side apply.
async fn apply<K>(client: &kube::Client, namespace: &str, object: Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    Api::<K>::namespaced(client.clone(), namespace)
        .patch(
            &name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("apply {name}: {e}"));
}

#[tokio::test]
async fn the_argocd_seed_example_opens_its_pull_request_on_the_forge() {
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service, networking::v1::Ingress};
    let (mut s, gitea) = world("pr-seed", "gitops-applications").await;
    gco_tests::testenv::ensure_namespace(&s.client, "production")
        .await
        .expect("namespace");
    let labels = json!({ "app": "web-app" });
    apply::<Deployment>(
        &s.client,
        "production",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web-app" },
            "spec": { "replicas": 2, "selector": { "matchLabels": labels }, "template": {
                "metadata": { "labels": labels },
                "spec": { "containers": [{ "name": "web", "image": "nginx:1.27" }] } } }
        }),
    )
    .await;
    apply::<Service>(
        &s.client,
        "production",
        json!({
            "apiVersion": "v1", "kind": "Service", "metadata": { "name": "api-service" },
            "spec": { "selector": { "app": "api" }, "ports": [{ "port": 80, "targetPort": 8080 }] }
        }),
    )
    .await;
    apply::<Ingress>(&s.client, "production", json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": { "name": "main-ingress" },
        "spec": { "rules": [{ "host": "app.example.com", "http": { "paths": [{ "path": "/", "pathType": "Prefix",
            "backend": { "service": { "name": "api-service", "port": { "number": 80 } } } }] } }] }
    })).await;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "github-token" },
        "stringData": { "token": gitea.token }
    });
    Api::<Secret>::namespaced(s.client.clone(), &s.namespace)
        .patch(
            "github-token",
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret");

    // The example exactly as documented, pointed at the forge.
    let seed = gco_tests::fixtures::seeds()
        .expect("seeds")
        .into_iter()
        .find(|seed| seed.name == "argocd-app-sync")
        .expect("the argocd-app-sync example");
    let mut object = seed.value.clone();
    object["spec"]["repository"]["url"] = json!(gitea.url("gitops-applications"));
    object["spec"]["repository"]["provider"] = json!("gitea");
    let sink = gco_tests::http_sink::HttpSink::start().await.expect("sink");
    s.start_controller("c1", &["--events-addr", &sink.url()])
        .expect("controller");
    create(&s, object).await;

    let done = wait(&s, &gitea, "argocd-app-sync", "opened", |o| {
        number(o).is_some() && is_ready(o, "True", "Succeeded")
    })
    .await;
    let head = format!("argocd-sync/{}-argocd-app-sync", s.namespace);
    assert_eq!(
        done.status
            .as_ref()
            .and_then(|st| st.head_branch.as_deref()),
        Some(head.as_str())
    );
    let repo = "gitops-applications";
    for (path, needle) in [
        ("applications/web-app/deployment.yaml", "kind: Deployment"),
        ("applications/api-service/service.yaml", "kind: Service"),
        ("networking/ingress.yaml", "kind: Ingress"),
    ] {
        let text = gitea
            .file(repo, &head, path)
            .expect("file")
            .unwrap_or_default();
        assert!(
            text.contains(needle) && !text.contains("managedFields"),
            "{path}: {text}"
        );
    }
    let open = gitea.pulls(repo, "open").expect("pulls");
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0]["title"],
        "🔄 Sync Application Manifests from Cluster"
    );
    assert!(
        open[0]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("## ArgoCD Application Sync")
    );

    // The same outcome reached Flux, with the URL and the head revision.
    let sha = done
        .status
        .as_ref()
        .and_then(|st| st.head_sha.clone())
        .expect("head sha");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let event = loop {
        let received = sink.received();
        if let Some(event) = received
            .into_iter()
            .find(|r| r.body["reason"] == "PullRequestOpened")
        {
            break event;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no PullRequestOpened Flux event"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(event.body["involvedObject"]["kind"], "PullRequest");
    assert_eq!(
        event.body["metadata"]["gco.galos.one/revision"],
        format!("{head}@sha1:{sha}").as_str()
    );
    let url = done.status.and_then(|st| st.pull_request_url).expect("url");
    assert!(
        event.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&url),
        "{:?}",
        event.body
    );
}
