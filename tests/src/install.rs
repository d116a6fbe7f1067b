//! A release of the shipped chart on the node (`hack/node.sh`) under test: the operator's
//! namespace under the restricted Pod Security level, a tenant namespace it watches, a git
//! daemon the pods reach on the host side of the node's veth, and the waits and diagnostics the
//! node tests (tests/tests/node_chart.rs) share.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use gco_api::GitCommit;
use k8s_openapi::api::{
    coordination::v1::Lease,
    core::v1::{ConfigMap, Namespace, Pod, Secret},
};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use serde_json::{Value, json};

use crate::{
    git::{GitDaemon, bare_repo, show},
    node::Node,
    testenv::{apply, ensure_namespace},
    workspace_root,
};

/// How long a rollout, an export or a hand-over may take.
pub const CONVERGE: Duration = Duration::from_secs(120);
/// The chart in the workspace.
pub fn chart() -> PathBuf {
    workspace_root().join("charts/git-change-operator")
}

/// A release under test: the operator's namespace (restricted Pod Security), a tenant namespace
/// it watches, a git daemon the pods reach on the host side of the node's veth.
pub struct Install {
    pub node: &'static Node,
    pub client: Client,
    pub release: String,
    pub namespace: String,
    pub tenant: String,
    pub repos: PathBuf,
    pub daemon: GitDaemon,
    /// Releases installed so far, uninstalled on drop.
    releases: std::sync::Mutex<Vec<String>>,
}

impl Drop for Install {
    /// A test that failed half-way leaves nothing running for the next one (they share the
    /// node): its releases and both namespaces go, without waiting.
    fn drop(&mut self) {
        let releases = std::mem::take(
            &mut *self
                .releases
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for release in releases {
            if let Ok(mut helm) = self.node.helm() {
                let _ = helm
                    .args(["uninstall", &release, "--namespace", &self.namespace])
                    .output();
            }
        }
        let _ = self
            .node
            .kubectl()
            .args(["delete", "namespace", &self.namespace, &self.tenant])
            .args(["--ignore-not-found", "--wait=false"])
            .output();
    }
}

impl Install {
    /// Namespaces and a repository `repo.git` with an empty `main`; nothing installed yet.
    pub async fn new(name: &str) -> Result<Self> {
        let node = Node::shared();
        let client = node.client().await?;
        let namespace = format!("gco-{name}");
        let tenant = format!("tenant-{name}");
        restricted_namespace(&client, &namespace).await?;
        ensure_namespace(&client, &tenant).await?;
        let repos = node.scratch_dir(name)?.join("repos");
        bare_repo(&repos, "repo.git");
        let daemon = GitDaemon::start_on(&repos, &node.host_ip);
        Ok(Self {
            node,
            client,
            release: name.to_owned(),
            namespace,
            tenant,
            repos,
            daemon,
            releases: std::sync::Mutex::default(),
        })
    }

    /// `helm install` (or `upgrade`) at image tag `tag`, two controller replicas, waiting for
    /// the rollout.
    pub fn helm(&self, verb: &str, tag: &str) -> Result<()> {
        self.helm_release(verb, &self.release, tag, &["controller.replicas=2"])
    }

    /// `helm <verb> <release>` of the chart into the operator's namespace with the local
    /// images at `tag`, watching the tenant namespace, with more `--set` values; waits for the
    /// rollout.
    pub fn helm_release(
        &self,
        verb: &str,
        release: &str,
        tag: &str,
        values: &[&str],
    ) -> Result<()> {
        let mut helm = self.node.helm()?;
        helm.args([verb, release])
            .arg(chart())
            .args([
                "--namespace",
                &self.namespace,
                "--wait",
                "--timeout",
                "180s",
            ])
            .args(["--set", &format!("image.tag={tag}")])
            .args(["--set", "image.pullPolicy=Never"])
            .args([
                "--set",
                &format!("controller.watchNamespace={}", self.tenant),
            ]);
        for value in values {
            helm.args(["--set", value]);
        }
        if verb == "install" {
            self.releases
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(release.to_owned());
        }
        crate::tools::run(&mut helm).map_err(|error| {
            let state = |args: &[&str]| {
                self.node
                    .run_kubectl(args)
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_else(|e| e.to_string())
            };
            anyhow::anyhow!(
                "{error:#}\npods:\n{}\nevents:\n{}",
                state(&["get", "pods", "-n", &self.namespace, "-o", "wide"]),
                state(&[
                    "get",
                    "events",
                    "-n",
                    &self.namespace,
                    "--sort-by=.lastTimestamp"
                ])
            )
        })?;
        Ok(())
    }

    /// Every pod of the release: Ready, and on the image tagged `tag`.
    pub async fn wait_pods(&self, tag: &str, count: usize) -> Result<Vec<Pod>> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!("app.kubernetes.io/instance={}", self.release);
        let deadline = Instant::now() + CONVERGE;
        loop {
            let list = pods.list(&ListParams::default().labels(&selector)).await?;
            let running: Vec<Pod> = list
                .items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let settled = running.len() == count
                && running
                    .iter()
                    .all(|p| pod_ready(p) && pod_image_tag(p) == tag);
            if settled {
                return Ok(running);
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = running
                    .iter()
                    .map(|p| {
                        format!(
                            "{} ready={} image={}",
                            p.metadata.name.as_deref().unwrap_or("?"),
                            pod_ready(p),
                            pod_image_tag(p)
                        )
                    })
                    .collect();
                bail!(
                    "pods of {} not all Ready on tag {tag} (want {count}): {summary:?}\n{}",
                    self.release,
                    self.node.log_tail("kubelet")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub fn lease(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The holder of the controller's leader Lease, once there is one.
    pub async fn leader(&self) -> Result<String> {
        let deadline = Instant::now() + CONVERGE;
        loop {
            if let Some(lease) = self.lease().get_opt("git-change-operator").await?
                && let Some(holder) = lease.spec.and_then(|s| s.holder_identity)
                && !holder.is_empty()
            {
                return Ok(holder);
            }
            if Instant::now() > deadline {
                bail!("no controller holds the Lease");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A cluster-wide policy allowing `git://`, the scheme of the test's git daemon, written
    /// once the webhook serves.
    pub async fn allow_git_scheme(&self) -> Result<()> {
        self.wait_webhook_serving().await?;
        let policies: Api<gco_api::GitExportPolicy> = Api::all(self.client.clone());
        let policy = json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
            "metadata": { "name": "node-tests-allow-git" },
            "spec": { "allowedSchemes": ["git"] }
        });
        apply(&policies, &policy).await.map(drop)
    }

    pub async fn put_configmap(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name },
                         "data": { key: value } });
        apply(
            &Api::<ConfigMap>::namespaced(self.client.clone(), &self.tenant),
            &cm,
        )
        .await
        .map(drop)
    }

    pub async fn put_tls_secret(&self, name: &str, crt: &str) -> Result<()> {
        let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name },
                             "type": "kubernetes.io/tls",
                             "stringData": { "tls.crt": crt, "tls.key": "never-exported" } });
        apply(
            &Api::<Secret>::namespaced(self.client.clone(), &self.tenant),
            &secret,
        )
        .await
        .map(drop)
    }

    /// The export most node tests start from: the test policy, ConfigMap `app` with
    /// `app.properties` = `value`, GitCommit `export` of it, and the file on `main`.
    pub async fn export_app(&self, value: &str) -> Result<()> {
        self.allow_git_scheme().await?;
        self.put_configmap("app", "app.properties", value).await?;
        self.create_gitcommit("export", false).await?;
        self.wait_file("config/app.properties", value).await
    }

    /// A GitCommit in the tenant namespace exporting ConfigMap `app` and, optionally, Secret
    /// `tls`'s `tls.crt`, to `repo.git` on the host's git daemon.
    pub async fn create_gitcommit(&self, name: &str, with_secret: bool) -> Result<()> {
        self.create_gitcommit_mode(name, with_secret, "overwrite")
            .await
    }

    /// As [`Self::create_gitcommit`], with `spec.writeMode` = `mode`.
    pub async fn create_gitcommit_mode(
        &self,
        name: &str,
        with_secret: bool,
        mode: &str,
    ) -> Result<()> {
        let mut references = vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
            "strategy": "fields", "output": { "path": "config/" }
        })];
        if with_secret {
            references.push(json!({
                "apiVersion": "v1", "kind": "Secret", "name": "tls",
                "strategy": "single-field", "field": "tls.crt",
                "output": { "path": "certificates/tls.crt" }
            }));
        }
        let object: GitCommit = serde_json::from_value(json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
            "metadata": { "name": name, "namespace": self.tenant },
            "spec": {
                "repository": { "url": self.daemon.url("repo.git") },
                "commit": { "message": "export from the node" },
                "writeMode": mode,
                "resourceReferences": references
            }
        }))?;
        Api::<GitCommit>::namespaced(self.client.clone(), &self.tenant)
            .create(&PostParams::default(), &object)
            .await
            .context("create the GitCommit")?;
        Ok(())
    }

    /// Waits until `path` on `main` reads `content`; fails with the GitCommit's status and the
    /// controller pods' logs.
    pub async fn wait_file(&self, path: &str, content: &str) -> Result<()> {
        self.wait_file_where(path, &format!("{content:?}"), |c| c == content)
            .await
            .map(drop)
    }

    /// Waits until `path` on `main` satisfies `check` (described as `what`), returning its
    /// content; fails with the GitCommits' status and the controller pods' logs.
    pub async fn wait_file_where(
        &self,
        path: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let repo = self.repos.join("repo.git");
        let deadline = Instant::now() + CONVERGE;
        loop {
            if let Some(content) = show(&repo, "main", path)
                && check(&content)
            {
                return Ok(content);
            }
            if Instant::now() > deadline {
                let statuses = self
                    .node
                    .run_kubectl(&["get", "gitcommits", "-n", &self.tenant, "-o", "yaml"])
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_else(|e| e.to_string());
                bail!(
                    "{path} never read {what} on main (it reads {:?})\nGitCommits:\n{statuses}\n\
                     controller logs:\n{}",
                    show(&repo, "main", path),
                    self.logs("controller")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The last log lines of one component's pods, of every release in the operator's
    /// namespace (the sharding test has two), with their pod status.
    pub fn logs(&self, component: &str) -> String {
        let selector = format!("app.kubernetes.io/component={component}");
        let pods = self
            .node
            .run_kubectl(&["get", "pods", "-n", &self.namespace, "-o", "wide"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        let leases = self
            .node
            .run_kubectl(&["get", "leases", "-n", &self.namespace])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        let logs = self
            .node
            .run_kubectl(&[
                "logs",
                "-n",
                &self.namespace,
                "-l",
                &selector,
                "--tail=40",
                "--prefix",
            ])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        format!("{pods}\n{leases}\n{logs}")
    }

    /// Waits until the apiserver reaches the webhook through its Service: pods are Ready a
    /// moment before kube-proxy routes to them, and until then every write of our kinds fails
    /// ("failed calling webhook": no route to host, connection refused).
    pub async fn wait_webhook_serving(&self) -> Result<()> {
        let policies: Api<gco_api::GitExportPolicy> = Api::all(self.client.clone());
        let probe: gco_api::GitExportPolicy = serde_json::from_value(json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
            "metadata": { "name": "node-tests-webhook-probe" },
            "spec": {}
        }))?;
        let dry_run = PostParams {
            dry_run: true,
            ..Default::default()
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match policies.create(&dry_run, &probe).await {
                Err(kube::Error::Api(status))
                    if status.message.contains("failed calling webhook") =>
                {
                    if Instant::now() > deadline {
                        bail!(
                            "the apiserver never reached the webhook: {}",
                            status.message
                        );
                    }
                }
                _ => return Ok(()),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn commits(&self) -> usize {
        crate::git::log(&self.repos.join("repo.git"), "main").len()
    }

    pub fn uninstall(&self) -> Result<()> {
        self.releases
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|r| *r != self.release);
        let mut helm = self.node.helm()?;
        helm.args([
            "uninstall",
            &self.release,
            "--namespace",
            &self.namespace,
            "--wait",
        ]);
        crate::tools::run(&mut helm).map(drop)
    }
}

/// A namespace where the restricted Pod Security level is enforced.
pub async fn restricted_namespace(client: &Client, name: &str) -> Result<()> {
    let namespace = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": name, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"
        } }
    });
    apply(&Api::<Namespace>::all(client.clone()), &namespace)
        .await
        .map(drop)
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn pod_image_tag(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.as_deref())
        .and_then(|i| i.rsplit_once(':'))
        .map(|(_, tag)| tag.to_owned())
        .unwrap_or_default()
}

pub fn component(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/component"))
        .map_or("", String::as_str)
}

/// Retries `create` until the webhook answers (a new webhook configuration reaches the
/// apiserver's admission a moment after it is written), returning the refusal.
pub async fn refusal(client: &Client, namespace: &str, object: &Value) -> Result<String> {
    let api: Api<GitCommit> = Api::namespaced(client.clone(), namespace);
    let object: GitCommit = serde_json::from_value(object.clone())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.create(&PostParams::default(), &object).await {
            Err(kube::Error::Api(status)) if status.message.contains("spec.") => {
                return Ok(status.message);
            }
            Ok(_) => bail!("the hostile GitCommit was admitted"),
            other => {
                if Instant::now() > deadline {
                    bail!("no refusal naming a field from the webhook: {other:?}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
