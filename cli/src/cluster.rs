//! The connection to the cluster, made as kubectl makes it (`--kubeconfig`, `KUBECONFIG`,
//! `--context`, the context's namespace), and the reads and patches of GitCommits and
//! PullRequests the commands share.

use std::path::PathBuf;

use gco_api::{ExportKind, GitCommit, PullRequest};
use kube::{
    Api, Client, Config,
    api::{ListParams, Patch, PatchParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::Value;

use crate::{error::CliError, object::Exported, target::Target};

/// The flags every cluster command takes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
}

/// A client and the namespace commands default to.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

impl Cluster {
    /// Connects as kubectl would with the same flags.
    pub async fn connect(args: &ClusterArgs) -> Result<Self, CliError> {
        let options = KubeConfigOptions {
            context: args.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match &args.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| CliError::Kubeconfig(format!("{}: {e}", path.display())))?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await
            }
            None => Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| CliError::Kubeconfig(e.to_string()))?;
        let namespace = args
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| CliError::Kubeconfig(e.to_string()))?;
        Ok(Cluster { client, namespace })
    }

    fn gitcommits(&self, namespace: Option<&str>) -> Api<GitCommit> {
        match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    fn pullrequests(&self, namespace: Option<&str>) -> Api<PullRequest> {
        match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// One object in the default namespace; a missing one is [`CliError::NotFound`].
    pub async fn get(&self, target: &Target) -> Result<Exported, CliError> {
        let ns = Some(self.namespace.as_str());
        let what = || format!("get {target} in namespace {}", self.namespace);
        let found = match target.kind {
            ExportKind::GitCommit => self
                .gitcommits(ns)
                .get_opt(&target.name)
                .await
                .map(|o| o.map(|o| Exported::GitCommit(Box::new(o)))),
            ExportKind::PullRequest => self
                .pullrequests(ns)
                .get_opt(&target.name)
                .await
                .map(|o| o.map(|o| Exported::PullRequest(Box::new(o)))),
        }
        .map_err(|e| CliError::kube(what(), e))?;
        found.ok_or_else(|| CliError::NotFound {
            kind: target.kind.to_string(),
            namespace: self.namespace.clone(),
            name: target.name.clone(),
        })
    }

    /// Every object of `kind`, in one namespace or (`None`) all of them.
    pub async fn list(
        &self,
        kind: ExportKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Exported>, CliError> {
        let params = ListParams::default();
        let what = || format!("list {kind}s");
        Ok(match kind {
            ExportKind::GitCommit => self
                .gitcommits(namespace)
                .list(&params)
                .await
                .map_err(|e| CliError::kube(what(), e))?
                .items
                .into_iter()
                .map(|o| Exported::GitCommit(Box::new(o)))
                .collect(),
            ExportKind::PullRequest => self
                .pullrequests(namespace)
                .list(&params)
                .await
                .map_err(|e| CliError::kube(what(), e))?
                .items
                .into_iter()
                .map(|o| Exported::PullRequest(Box::new(o)))
                .collect(),
        })
    }

    /// A JSON merge patch of one object; returns the object as patched.
    pub async fn merge(&self, target: &Target, patch: &Value) -> Result<Exported, CliError> {
        let ns = Some(self.namespace.as_str());
        let params = PatchParams::default();
        let patch = Patch::Merge(patch);
        let what = || format!("patch {target} in namespace {}", self.namespace);
        match target.kind {
            ExportKind::GitCommit => self
                .gitcommits(ns)
                .patch(&target.name, &params, &patch)
                .await
                .map(|o| Exported::GitCommit(Box::new(o))),
            ExportKind::PullRequest => self
                .pullrequests(ns)
                .patch(&target.name, &params, &patch)
                .await
                .map(|o| Exported::PullRequest(Box::new(o))),
        }
        .map_err(|e| match &e {
            kube::Error::Api(status) if status.code == 404 => CliError::NotFound {
                kind: target.kind.to_string(),
                namespace: self.namespace.clone(),
                name: target.name.clone(),
            },
            _ => CliError::kube(what(), e),
        })
    }
}
