//! Admission latency through the real apiserver (DESIGN §8): server-side dry-run creates of a
//! typical GitCommit from 50 concurrent clients, with no admission at all, with the webhook
//! (mutating + validating), and with an equivalent ValidatingAdmissionPolicy for one rule.
//! Prints p50/p99 of each and the ratio of what the webhook and the VAP add to the p99.
//!
//! Run: `hack/bench-webhook.sh` (or `cargo run --release -p gco-tests --bin bench-webhook`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use gco_tests::{
    admission::create,
    testenv::{ControlPlane, TEST_MANAGER, install_crds},
    webhook::{CONFIGURATION, register},
};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
    ValidatingWebhookConfiguration,
};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams},
};
use serde_json::{Value, json};

const CLIENTS: usize = 50;
const REQUESTS_PER_CLIENT: usize = 20;
/// Modes alternate in short rounds, so drift in the machine's load hits all of them alike.
const ROUNDS: usize = 4;
const VAP: &str = "gco-bench-no-parent-dirs";

/// A typical GitCommit, written like the seed examples: every reference names its namespace
/// and the commit its author and message, so there is nothing to default and the mutating
/// webhook's match condition skips the call.
fn typical() -> Value {
    json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit", "metadata": {"name": "bench"},
        "spec": {
            "repository": {"url": "https://github.com/company/k8s-config.git", "branch": "main"},
            "commit": {"author": "Bench <bench@example.com>", "message": "Sync $(date)"},
            "files": [{"path": "clusters/production/info.yaml", "content": "cluster: production\n"}],
            "resourceReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "app-config", "namespace": "production", "strategy": "fields", "output": {"path": "clusters/production/app/"}},
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "production", "output": {"path": "clusters/production/web.yaml"}}
            ]
        }
    })
}

/// The same export leaving the author and the reference namespaces to the defaults: both
/// webhooks are called.
fn needs_defaults() -> Value {
    let mut object = typical();
    object["spec"]["commit"] = json!({"message": "Sync $(date)"});
    for reference in object["spec"]["resourceReferences"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if let Some(map) = reference.as_object_mut() {
            map.remove("namespace");
        }
    }
    object
}

fn hostile() -> Value {
    let mut object = typical();
    object["spec"]["files"][0]["path"] = json!("../escape");
    object
}

/// 50 clients × 20 dry-run creates of `object`; every latency, sorted.
async fn measure(client: &Client, namespace: &str, object: Value) -> Result<Vec<Duration>> {
    let object = Arc::new(object);
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, namespace, object) = (client.clone(), namespace.to_owned(), object.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for _ in 0..REQUESTS_PER_CLIENT {
                let started = Instant::now();
                create(&client, &namespace, &object, true)
                    .await
                    .map_err(anyhow::Error::msg)?;
                samples.push(started.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort();
    Ok(all)
}

fn percentile(samples: &[Duration], p: usize) -> Duration {
    samples
        .get(samples.len() * p / 100)
        .copied()
        .unwrap_or_default()
}

async fn until(client: &Client, namespace: &str, refused: bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if create(client, namespace, &hostile(), true).await.is_err() == refused {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("admission did not change within 30s (expected refused = {refused})")
}

async fn unregister_webhook(client: &Client, namespace: &str) -> Result<()> {
    let _ = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .delete(CONFIGURATION, &DeleteParams::default())
        .await;
    let _ = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(CONFIGURATION, &DeleteParams::default())
        .await;
    until(client, namespace, false).await
}

async fn install_vap(client: &Client, namespace: &str) -> Result<()> {
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "metadata": {"name": VAP},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["gco.galos.one"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["gitcommits"]
            }]},
            "validations": [{
                "expression": "!has(object.spec.files) || object.spec.files.all(f, !f.path.contains('..'))",
                "message": "spec.files[].path must not contain '..'"
            }]
        }
    }))?;
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "metadata": {"name": VAP},
        "spec": {"policyName": VAP, "validationActions": ["Deny"]}
    }))?;
    let params = PatchParams::apply(TEST_MANAGER).force();
    Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .patch(VAP, &params, &Patch::Apply(&policy))
        .await?;
    Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .patch(VAP, &params, &Patch::Apply(&binding))
        .await?;
    until(client, namespace, true).await
}

async fn remove_vap(client: &Client, namespace: &str) -> Result<()> {
    let _ = Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
        .delete(VAP, &DeleteParams::default())
        .await;
    let _ = Api::<ValidatingAdmissionPolicy>::all(client.clone())
        .delete(VAP, &DeleteParams::default())
        .await;
    until(client, namespace, false).await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let plane = ControlPlane::shared();
    let client = plane.client().await?;
    install_crds(&client).await?;
    let namespace = plane.namespace(&client, "bench").await?;
    let names = [
        "no admission",
        "webhook",
        "VAP (1 rule)",
        "webhook+defaults",
    ];
    let mut pooled: [Vec<Duration>; 4] = Default::default();
    let mut per_round = Vec::new();
    // Warm-up: connections, discovery, caches.
    measure(&client, &namespace, typical())
        .await
        .context("warm-up")?;
    for round in 0..ROUNDS {
        let mut samples: [Vec<Duration>; 4] = Default::default();
        samples[0] = measure(&client, &namespace, typical()).await?;
        register(&client).await?;
        measure(&client, &namespace, typical()).await?;
        samples[1] = measure(&client, &namespace, typical()).await?;
        samples[3] = measure(&client, &namespace, needs_defaults()).await?;
        unregister_webhook(&client, &namespace).await?;
        install_vap(&client, &namespace).await?;
        samples[2] = measure(&client, &namespace, typical()).await?;
        remove_vap(&client, &namespace).await?;
        let p99: Vec<Duration> = samples.iter().map(|s| percentile(s, 99)).collect();
        eprintln!(
            "round {}/{ROUNDS}: p99 none {:.2?}, webhook {:.2?}, VAP {:.2?}, webhook+defaults {:.2?}",
            round + 1,
            p99[0],
            p99[1],
            p99[2],
            p99[3]
        );
        per_round.push(p99);
        for (pool, mode) in pooled.iter_mut().zip(samples) {
            pool.extend(mode);
        }
    }
    println!(
        "server-side dry-run create of a typical GitCommit, {CLIENTS} concurrent clients, {} requests per mode in {ROUNDS} alternating rounds",
        CLIENTS * REQUESTS_PER_CLIENT * ROUNDS
    );
    println!("{:<14} {:>10} {:>10}", "mode", "p50", "p99");
    for (name, samples) in names.iter().zip(pooled.iter_mut()) {
        samples.sort();
        println!(
            "{name:<14} {:>10.2?} {:>10.2?}",
            percentile(samples, 50),
            percentile(samples, 99)
        );
    }
    let added = |mode: usize| {
        let mut deltas: Vec<f64> = per_round
            .iter()
            .map(|p99| p99[mode].as_secs_f64() - p99[0].as_secs_f64())
            .collect();
        deltas.sort_by(f64::total_cmp);
        deltas[deltas.len() / 2] * 1e3
    };
    let (webhook, vap, defaulting) = (added(1), added(2), added(3));
    println!(
        "p99 added over no admission (median of rounds): webhook {webhook:.2} ms, webhook filling defaults {defaulting:.2} ms, VAP {vap:.2} ms; ratio webhook/VAP {} (budget: at most 1.5)",
        if vap > 0.0 {
            format!("{:.2}", webhook / vap)
        } else {
            "n/a (the VAP adds nothing measurable)".to_owned()
        }
    );
    Ok(())
}
