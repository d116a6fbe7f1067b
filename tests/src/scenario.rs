//! A scenario for controller tests: a namespace on the shared control plane, a bare repository
//! served by `git daemon`, a controller process watching that namespace, and helpers to wait for
//! conditions and read what reached the branch.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Result, bail};
use gco_api::{GitCommit, GitExportPolicy};
use k8s_openapi::api::{core::v1::ConfigMap, events::v1::Event};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use serde_json::{Value, json};

use crate::{
    controller::ControllerProcess,
    git::{GitDaemon, bare_repo, git, show, tip},
    testenv::{ControlPlane, apply, install_crds},
};

/// How long a test waits for the controller to reach a state.
pub const CONVERGE: Duration = Duration::from_secs(60);

/// One test's world.
pub struct Scenario {
    pub plane: &'static ControlPlane,
    pub client: Client,
    pub namespace: String,
    pub work: PathBuf,
    pub repo: PathBuf,
    pub daemon: GitDaemon,
    pub controllers: Vec<ControllerProcess>,
}

impl Scenario {
    /// A namespace, a repository `repo.git` with an empty `main`, and no controller yet.
    pub async fn new(prefix: &str) -> Result<Self> {
        Self::on(ControlPlane::shared(), prefix).await
    }

    /// As [`new`](Self::new), on another control plane than the test binary's shared one.
    pub async fn on(plane: &'static ControlPlane, prefix: &str) -> Result<Self> {
        let client = plane.client().await?;
        install_crds(&client).await?;
        allow_git_daemon_urls(&client).await?;
        let namespace = plane.namespace(&client, prefix).await?;
        let work = plane.scratch_dir(&namespace)?;
        let repos = work.join("repos");
        let repo = bare_repo(&repos, "repo.git");
        let daemon = GitDaemon::start(&repos);
        Ok(Self {
            plane,
            client,
            namespace,
            work,
            repo,
            daemon,
            controllers: Vec::new(),
        })
    }

    /// `git://127.0.0.1:<port>/repo.git`.
    pub fn url(&self) -> String {
        self.daemon.url("repo.git")
    }

    /// Starts a controller that watches this scenario's namespace.
    pub fn start_controller(&mut self, name: &str, extra: &[&str]) -> Result<()> {
        let mut args = vec!["--watch-namespace", self.namespace.as_str()];
        args.extend_from_slice(extra);
        let process = ControllerProcess::start(self.plane, &self.work, name, &args)?;
        self.controllers.push(process);
        Ok(())
    }

    /// Starts a controller for this namespace that authenticates with `kubeconfig`.
    pub fn start_controller_as(
        &mut self,
        name: &str,
        kubeconfig: &Path,
        extra: &[&str],
    ) -> Result<()> {
        let mut args = vec!["--watch-namespace", self.namespace.as_str()];
        args.extend_from_slice(extra);
        let process = ControllerProcess::start_as(kubeconfig, &self.work, name, &args)?;
        self.controllers.push(process);
        Ok(())
    }

    pub fn gitcommits(&self) -> Api<GitCommit> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Creates or replaces a ConfigMap in the scenario's namespace.
    pub async fn put_configmap(&self, name: &str, data: &[(&str, &str)]) -> Result<()> {
        let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name }, "data": pairs(data) });
        apply(&self.configmaps(), &cm).await?;
        Ok(())
    }

    /// Creates or replaces Secret `name` in the scenario's namespace with `string_data`.
    pub async fn put_secret(&self, name: &str, string_data: &[(&str, &str)]) -> Result<()> {
        let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name },
                             "stringData": pairs(string_data) });
        let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
            self.client.clone(),
            &self.namespace,
        );
        apply(&secrets, &secret).await?;
        Ok(())
    }

    /// Creates a GitCommit from JSON (`metadata.namespace` is set to the scenario's).
    pub async fn create_gitcommit(&self, mut object: Value) -> Result<GitCommit> {
        object["metadata"]["namespace"] = json!(self.namespace);
        let object: GitCommit = serde_json::from_value(object)?;
        Ok(self
            .gitcommits()
            .create(&PostParams::default(), &object)
            .await?)
    }

    /// Waits until `check` holds for the GitCommit, returning it; fails with the last status
    /// and the controller logs otherwise.
    pub async fn wait_gitcommit(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&GitCommit) -> bool,
    ) -> Result<GitCommit> {
        let deadline = tokio::time::Instant::now() + CONVERGE;
        loop {
            let object = self.gitcommits().get(name).await?;
            if check(&object) {
                return Ok(object);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "GitCommit {name}: not {what} within {CONVERGE:?}; status: {}\ncontroller logs:\n{}",
                    serde_json::to_string_pretty(&object.status).unwrap_or_default(),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for Ready with the given status (`True`, `False`) and, if given, reason.
    pub async fn wait_ready(
        &self,
        name: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<GitCommit> {
        let what = format!("Ready={status} {}", reason.unwrap_or(""));
        self.wait_gitcommit(name, &what, |o| {
            condition(o, "Ready")
                .is_some_and(|(s, r)| s == status && reason.is_none_or(|want| r == want))
                && o.status.as_ref().and_then(|s| s.observed_generation) == o.metadata.generation
        })
        .await
    }

    /// The content of `path` on `main`, if any.
    pub fn file(&self, path: &str) -> Option<String> {
        show(&self.repo, "main", path)
    }

    /// Commit subjects on `main`, newest first.
    pub fn history(&self) -> Vec<String> {
        if tip(&self.repo, "main").is_none() {
            return Vec::new();
        }
        git(&self.repo, &["log", "--format=%s", "main"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The tip of `main`.
    pub fn tip(&self) -> Option<String> {
        tip(&self.repo, "main")
    }

    /// Every controller's log, for failure messages.
    pub fn logs(&self) -> String {
        self.controllers
            .iter()
            .map(ControllerProcess::log)
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The events with `reason` once there are at least `count` (a background writer records
    /// them just after the status write, so a test that saw the status may be a moment
    /// early); what there is after [`CONVERGE`] otherwise.
    pub async fn events_at_least(&self, reason: &str, count: usize) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + CONVERGE;
        loop {
            let events = self.events(reason).await;
            if events.len() >= count || tokio::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The Kubernetes events with `reason` in the scenario's namespace.
    pub async fn events(&self, reason: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        list.into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect()
    }
}

fn pairs(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A GitCommit named `name` committing to `url` with `spec` fields merged over a default
/// commit message that uses a placeholder.
pub fn gitcommit(name: &str, url: &str, spec: Value) -> Value {
    let mut object = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": { "name": name },
        "spec": { "repository": { "url": url }, "commit": { "message": "sync $(date +%Y-%m-%d)" } }
    });
    if let Some(fields) = spec.as_object() {
        for (key, value) in fields {
            object["spec"][key] = value.clone();
        }
    }
    object
}

/// A reference exporting ConfigMap `name` with `strategy: fields` under `path`.
pub fn configmap_fields(name: &str, path: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "ConfigMap", "name": name, "strategy": "fields", "output": { "path": path } })
}

/// `(status, reason)` of a condition.
pub fn condition(object: &GitCommit, type_: &str) -> Option<(String, String)> {
    object
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Tests serve repositories over `git://` on loopback, which the built-in rules refuse unless a
/// policy allows the scheme: one cluster-wide policy does, for every test namespace. It also
/// allows references into the other namespaces tests make (selector tests span several).
async fn allow_git_daemon_urls(client: &Client) -> Result<()> {
    let policies: Api<GitExportPolicy> = Api::all(client.clone());
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": "tests-allow-git-daemon" },
        "spec": { "allowedSchemes": ["git", "http", "file"], "crossNamespaceReferences": true }
    });
    apply(&policies, &policy).await.map(drop)
}
