//! Helpers for tests that go through the admission webhook: namespaces labelled for their own
//! policies, policies that select only them, and creates that return the apiserver's message.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use crate::{
    testenv::{ControlPlane, TEST_MANAGER, install_crds},
    webhook::{gco_api_resource, register},
};

/// The label a test namespace carries so that its policies select it alone.
pub const TEST_LABEL: &str = "gco-test";

/// An admin client and a fresh namespace labelled `gco-test=<namespace>`, with the CRDs
/// installed and the webhook registered.
pub async fn setup(prefix: &str) -> Result<(Client, String)> {
    let plane = ControlPlane::shared();
    let client = plane.client().await?;
    install_crds(&client).await?;
    register(&client).await?;
    let namespace = plane.namespace(&client, prefix).await?;
    let patch = json!({"metadata": {"labels": {TEST_LABEL: namespace}}});
    Api::<Namespace>::all(client.clone())
        .patch(&namespace, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok((client, namespace))
}

/// Applies a GitExportPolicy named `<namespace>-<suffix>` that selects only `namespace`.
pub async fn apply_policy(
    client: &Client,
    namespace: &str,
    suffix: &str,
    mut spec: Value,
) -> Result<String> {
    let name = format!("{namespace}-{suffix}");
    spec["namespaceSelector"] = json!({"matchLabels": {TEST_LABEL: namespace}});
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": {"name": name}, "spec": spec
    });
    let api: Api<DynamicObject> =
        Api::all_with(client.clone(), &gco_api_resource("GitExportPolicy"));
    api.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&policy),
    )
    .await?;
    Ok(name)
}

/// Creates `object` (a GitCommit or PullRequest) in `namespace`; `Err` carries the
/// apiserver's message.
pub async fn create(
    client: &Client,
    namespace: &str,
    object: &Value,
    dry_run: bool,
) -> Result<DynamicObject, String> {
    let kind = object["kind"].as_str().unwrap_or("GitCommit");
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &gco_api_resource(kind));
    let mut object = object.clone();
    object["metadata"]["namespace"] = json!(namespace);
    let object: DynamicObject = serde_json::from_value(object).map_err(|e| e.to_string())?;
    let params = PostParams {
        dry_run,
        ..Default::default()
    };
    api.create(&params, &object)
        .await
        .map_err(|error| match error {
            kube::Error::Api(status) => status.message,
            other => other.to_string(),
        })
}

/// Retries `create` until `check` holds for its result (policies and RBAC reach the webhook
/// and the authorizer through watches, a moment after they are written).
pub async fn eventually(
    client: &Client,
    namespace: &str,
    object: &Value,
    check: impl Fn(&Result<DynamicObject, String>) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let result = create(client, namespace, object, true).await;
        if check(&result) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("still {result:?} after 20s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
