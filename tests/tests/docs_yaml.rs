//! Every YAML block in the README and docs/ parses, and every GitCommit and PullRequest in them
//! is accepted by the real apiserver with the admission webhook (server-side dry run), together
//! with the GitExportPolicies of the same page.

use std::fs;

use gco_tests::{
    fixtures::install_monitoring_crds,
    testenv::{ControlPlane, TEST_MANAGER, ensure_namespace, install_crds},
    webhook::{gco_api_resource, register},
    workspace_root,
};
use kube::{
    Api,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::Value;

/// The ```yaml blocks of a Markdown page.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[tokio::test]
async fn every_yaml_in_the_docs_parses_and_every_export_is_admitted() {
    let plane = ControlPlane::shared();
    let client = plane.client().await.expect("client");
    install_crds(&client).await.expect("CRDs");
    // The docs export the Prometheus operator's kinds, which the webhook refuses unless served.
    install_monitoring_crds(&client)
        .await
        .expect("monitoring CRDs");
    register(&client).await.expect("webhook");
    let namespace = plane.namespace(&client, "docs").await.expect("namespace");

    let root = workspace_root();
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<_> = fs::read_dir(root.join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    docs.sort();
    pages.extend(
        docs.into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );

    let mut exports_checked = 0;
    for page in pages {
        let name = page
            .strip_prefix(&root)
            .unwrap_or(&page)
            .display()
            .to_string();
        let markdown = fs::read_to_string(&page).expect("readable page");
        let mut objects = Vec::new();
        for (i, block) in yaml_blocks(&markdown).into_iter().enumerate() {
            let documents: Vec<Value> = serde_saphyr::from_str_multiple(&block)
                .unwrap_or_else(|e| panic!("{name}: YAML block {i} does not parse: {e}\n{block}"));
            objects.extend(documents.into_iter().filter(|d| !d.is_null()));
        }
        let kind = |o: &Value| o["kind"].as_str().unwrap_or_default().to_owned();
        let is_ours = |o: &Value| {
            o["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("gco.galos.one/"))
        };

        // The page's policies apply while its exports are checked, then go away.
        let policies: Vec<&Value> = objects
            .iter()
            .filter(|o| is_ours(o) && kind(o) == "GitExportPolicy")
            .collect();
        let policy_api: Api<DynamicObject> =
            Api::all_with(client.clone(), &gco_api_resource("GitExportPolicy"));
        for policy in &policies {
            let policy_name = policy["metadata"]["name"].as_str().expect("policy name");
            let object: DynamicObject =
                serde_json::from_value((*policy).clone()).expect("policy object");
            policy_api
                .patch(
                    policy_name,
                    &PatchParams::apply(TEST_MANAGER),
                    &Patch::Apply(&object),
                )
                .await
                .unwrap_or_else(|e| panic!("{name}: GitExportPolicy {policy_name} refused: {e}"));
        }
        if !policies.is_empty() {
            // The webhook watches policies: give it a moment to see these.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        for object in objects
            .iter()
            .filter(|o| is_ours(o) && matches!(kind(o).as_str(), "GitCommit" | "PullRequest"))
        {
            let target = object["metadata"]["namespace"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| namespace.clone());
            ensure_namespace(&client, &target).await.expect("namespace");
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), &target, &gco_api_resource(&kind(object)));
            let typed: DynamicObject = serde_json::from_value(object.clone()).expect("object");
            let dry_run = PostParams {
                dry_run: true,
                ..PostParams::default()
            };
            api.create(&dry_run, &typed).await.unwrap_or_else(|e| {
                panic!(
                    "{name}: {} {} refused: {e}",
                    kind(object),
                    object["metadata"]["name"]
                )
            });
            exports_checked += 1;
        }
        for policy in &policies {
            let policy_name = policy["metadata"]["name"].as_str().expect("policy name");
            let _ = policy_api
                .delete(policy_name, &DeleteParams::default())
                .await;
        }
    }
    assert!(
        exports_checked >= 9,
        "the user guide alone has nine exports; checked {exports_checked}"
    );
}
