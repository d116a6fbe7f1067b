//! `render` and `diff`: what a GitCommit or PullRequest would write, and the patch that would
//! make on its branch, with the controller's own renderer
//! ([`gco_controller::render::offline`]), so they refuse what the controller refuses.
//!
//! The spec comes from a file (`-f`) or the cluster (`KIND/NAME`); the referenced objects from
//! manifest files (`--objects`) and, with `--live`, from the cluster, read as the user running
//! the command, so RBAC decides what may be previewed. Nothing is written anywhere.

use std::path::PathBuf;

use gco_api::{
    GitExportPolicy, ResourceReference, Target as ReferenceTarget, rules::matching,
    split_api_version,
};
use gco_controller::render::offline::{self, Rendered};
use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Namespace, apimachinery::pkg::apis::meta::v1::LabelSelector};
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, ListParams},
    core::GroupVersionKind,
    discovery::{Scope, pinned_kind},
};
use serde_json::Value;

use crate::{cluster::Cluster, error::CliError, target::Target};

/// The flags `render` and `diff` share.
#[derive(Clone, Debug, clap::Args)]
pub struct RenderArgs {
    /// gitcommit/NAME or pullrequest/NAME, read from the cluster.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub target: Option<Target>,
    /// A GitCommit or PullRequest manifest instead.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Manifest files or folders holding the referenced objects (repeatable).
    #[arg(long, value_name = "PATH")]
    pub objects: Vec<PathBuf>,
    /// Read the referenced objects from the cluster, as you (RBAC applies).
    #[arg(long)]
    pub live: bool,
    /// The instant placeholders render, RFC 3339 (default: now).
    #[arg(long)]
    pub at: Option<Timestamp>,
}

/// `diff` flags: `render`'s, and the repository to compare with.
#[derive(Clone, Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub render: RenderArgs,
    /// A repository path or URL to diff against, anonymously (default: the spec's URL).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
}

/// The files `args` would write, as `gco-controller render` prints them.
pub async fn render(cluster: Option<&Cluster>, args: &RenderArgs) -> Result<String, CliError> {
    Ok(offline::format_writes(
        &rendered(cluster, args).await?.writes,
    ))
}

/// The patch `args` would make on the branch tip.
pub async fn diff(cluster: Option<&Cluster>, args: &DiffArgs) -> Result<String, CliError> {
    let rendered = rendered(cluster, &args.render).await?;
    let repo = args.repo.clone().unwrap_or_else(|| rendered.url.clone());
    if repo.is_empty() {
        return Err(CliError::Usage(
            "the spec names no repository: pass --repo URL".into(),
        ));
    }
    // libgit2 blocks: off the async threads.
    tokio::task::spawn_blocking(move || rendered.diff(&repo, None))
        .await
        .map_err(|e| CliError::Failed(format!("the diff did not finish: {e}")))?
        .map_err(CliError::from)
}

/// Whether a command needs the cluster: a `KIND/NAME` or `--live`.
pub fn needs_cluster(args: &RenderArgs) -> bool {
    args.target.is_some() || args.live
}

async fn rendered(cluster: Option<&Cluster>, args: &RenderArgs) -> Result<Rendered, CliError> {
    let (manifest, source) = match (&args.target, &args.file, cluster) {
        (Some(target), _, Some(cluster)) => {
            let object = cluster.get(target).await?;
            let value = serde_json::to_value(&object)
                .map_err(|e| CliError::Failed(format!("cannot read {target}: {e}")))?;
            (value, target.to_string())
        }
        (None, Some(file), _) => (read_manifest(file)?, file.display().to_string()),
        _ => return Err(CliError::Usage("name gitcommit/NAME, or -f FILE".into())),
    };
    let mut objects = Vec::new();
    for path in &args.objects {
        objects.extend(offline::load_objects(path)?);
    }
    if args.live {
        let cluster = cluster.ok_or_else(|| CliError::Usage("--live needs a cluster".into()))?;
        objects.extend(read_live(cluster, &manifest).await?);
    }
    let at = args.at.unwrap_or_else(Timestamp::now);
    // The built-in rules, and with a cluster the policies that select the object's namespace,
    // as the webhook and the controller judge it.
    let policies = match cluster {
        Some(cluster) => cluster_policies(cluster, &manifest).await,
        None => Vec::new(),
    };
    let policies: Vec<&GitExportPolicy> = policies.iter().collect();
    Ok(offline::render_manifest(
        &manifest, &source, &objects, &policies, at,
    )?)
}

/// The GitExportPolicies that select the namespace of `manifest` (else the context's). A user
/// who may not list policies or read the namespace gets none: the built-in rules still apply,
/// and the webhook judges the rest at apply time.
async fn cluster_policies(cluster: &Cluster, manifest: &Value) -> Vec<GitExportPolicy> {
    let namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(&cluster.namespace);
    let unread = || {
        eprintln!(
            "note: cannot read the cluster's GitExportPolicies or namespace {namespace:?}: judging by the built-in rules only"
        );
        Vec::new()
    };
    let Ok(found) = Api::<Namespace>::all(cluster.client.clone())
        .get(namespace)
        .await
    else {
        return unread();
    };
    let Ok(policies) = Api::<GitExportPolicy>::all(cluster.client.clone())
        .list(&Default::default())
        .await
    else {
        return unread();
    };
    let labels = found.metadata.labels.unwrap_or_default();
    matching(&policies.items, &labels)
        .into_iter()
        .cloned()
        .collect()
}

fn read_manifest(file: &std::path::Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(file).map_err(|e| CliError::Io {
        what: format!("read {}", file.display()),
        reason: e.to_string(),
    })?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| CliError::Io {
        what: format!("parse {}", file.display()),
        reason: e.to_string(),
    })?;
    documents
        .into_iter()
        .find(|d| !d.is_null())
        .ok_or_else(|| CliError::Usage(format!("{} is empty", file.display())))
}

/// The objects `manifest` references, read from the cluster as the user; missing ones are left
/// out (the renderer then refuses a required one, as the controller would).
async fn read_live(cluster: &Cluster, manifest: &Value) -> Result<Vec<Value>, CliError> {
    let references: Vec<ResourceReference> = manifest
        .pointer("/spec/resourceReferences")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| CliError::Usage(format!("spec.resourceReferences: {e}")))?
        .unwrap_or_default();
    let own_namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or(&cluster.namespace);
    let mut objects = Vec::new();
    for reference in &references {
        let (group, version) = split_api_version(&reference.api_version);
        let gvk = GroupVersionKind::gvk(group, version, &reference.kind);
        let what = || format!("read {} {}", reference.kind, reference.describe());
        let (resource, capabilities) = pinned_kind(&cluster.client, &gvk)
            .await
            .map_err(|e| CliError::kube(what(), e))?;
        let namespace = reference
            .namespace
            .as_deref()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or(own_namespace);
        let api_in = |namespace: &str| -> Api<DynamicObject> {
            match capabilities.scope {
                Scope::Namespaced => {
                    Api::namespaced_with(cluster.client.clone(), namespace, &resource)
                }
                Scope::Cluster => Api::all_with(cluster.client.clone(), &resource),
            }
        };
        let mut found = Vec::new();
        match reference.target() {
            Some(ReferenceTarget::Named(name)) => {
                found.extend(api_in(namespace).get_opt(name).await.map_err(|e| {
                    CliError::kube(format!("{} in namespace {namespace}", what()), e)
                })?)
            }
            Some(ReferenceTarget::Selected {
                selector,
                namespaces,
            }) => {
                let labels = gco_api::selector::parse(selector)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", what())))?;
                // As many as the controller would read: one past it shows the refusal.
                let limit =
                    u32::try_from(gco_api::rules::BUILTIN_MAX_FILES + 1).unwrap_or(u32::MAX);
                let params = ListParams::default().labels_from(&labels).limit(limit);
                let looked_in = match (&capabilities.scope, namespaces) {
                    // A cluster-scoped kind is listed once, whatever the namespaces.
                    (Scope::Cluster, _) => vec![String::new()],
                    (Scope::Namespaced, Some(namespaces)) => {
                        matching_namespaces(cluster, namespaces).await?
                    }
                    (Scope::Namespaced, None) => vec![namespace.to_owned()],
                };
                for namespace in looked_in {
                    let listed = api_in(&namespace).list(&params).await.map_err(|e| {
                        CliError::kube(format!("{} in namespace {namespace}", what()), e)
                    })?;
                    found.extend(listed.items);
                }
            }
            None => {
                return Err(CliError::Usage(format!(
                    "{}: give name or selector",
                    what()
                )));
            }
        }
        for object in found {
            let mut value = serde_json::to_value(&object)
                .map_err(|e| CliError::Failed(format!("cannot {}: {e}", what())))?;
            // A dynamic read carries no type information; the renderer matches on it.
            value["apiVersion"] = Value::from(reference.api_version.clone());
            value["kind"] = Value::from(reference.kind.clone());
            objects.push(value);
        }
    }
    Ok(objects)
}

/// The namespaces whose labels `selector` matches.
async fn matching_namespaces(
    cluster: &Cluster,
    selector: &LabelSelector,
) -> Result<Vec<String>, CliError> {
    let labels = gco_api::selector::parse(selector)
        .map_err(|e| CliError::Usage(format!("namespaceSelector: {e}")))?;
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let listed = api
        .list_metadata(&ListParams::default().labels_from(&labels))
        .await
        .map_err(|e| CliError::kube("list namespaces".to_owned(), e))?;
    Ok(listed.items.iter().map(ResourceExt::name_any).collect())
}
