//! `trace PATH --repo URL`: the reverse of `flux trace`. The newest commit that changed PATH
//! names, in its `Gco-Object` / `Gco-Run` trailers, the objects and runs it was made for (one
//! pair per run, several when runs were coalesced into one push); of those, the ones whose
//! spec writes PATH are its writers. For each: its Ready condition, its last events, and the
//! GitExportPolicies that govern its namespace.

mod repo;

use std::collections::BTreeMap;

use gco_api::{ExportKind, GitExportPolicy, redact_url, rules};
use gco_controller::git::object_runs;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, ResourceExt, api::ListParams};

use crate::{
    cluster::Cluster,
    error::CliError,
    events,
    object::Exported,
    table,
    target::{Target, kind_word},
};

pub use gco_controller::render::templates::could_write;
pub use repo::{MAX_COMMITS, Touch, last_touch};

/// How many of an object's events `trace` shows.
const LAST_EVENTS: usize = 5;

/// `trace` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct TraceArgs {
    /// The file's path in the repository.
    pub path: String,
    /// The repository: a URL you can clone anonymously, or a local path.
    #[arg(long, value_name = "URL")]
    pub repo: String,
    /// The branch.
    #[arg(long, default_value = "main")]
    pub branch: String,
}

/// One `Gco-Object` / `Gco-Run` pair, and what the cluster says about its object now.
struct Candidate {
    label: String,
    run: String,
    found: Result<Exported, CliError>,
}

pub async fn run(cluster: &Cluster, args: &TraceArgs) -> Result<String, CliError> {
    let (repo, branch, path) = (args.repo.clone(), args.branch.clone(), args.path.clone());
    let touch = tokio::task::spawn_blocking(move || last_touch(&repo, &branch, &path))
        .await
        .map_err(|e| CliError::Failed(format!("reading the repository did not finish: {e}")))??
        .ok_or_else(|| {
            CliError::Failed(format!(
                "no commit among the last {MAX_COMMITS} on {} changed {}: check the path and --branch",
                args.branch, args.path
            ))
        })?;
    let pairs = object_runs(&touch.message);
    if pairs.is_empty() {
        return Err(CliError::Failed(format!(
            "commit {} changed {} but carries no Gco-Object trailer: git-change-operator did not write it",
            table::short_sha(&touch.commit),
            args.path
        )));
    }
    let mut candidates = Vec::new();
    for (object, run) in pairs {
        candidates.push(Candidate {
            found: lookup(cluster, &object).await,
            label: object,
            run,
        });
    }
    // A coalesced commit names every run it carries; the writers are those whose spec writes
    // this path. If none does any more (the spec changed since), all are shown.
    let writes = |c: &Candidate| {
        c.found
            .as_ref()
            .is_ok_and(|o| could_write(o.export(), &args.path))
    };
    let writers: Vec<&Candidate> = match candidates.iter().filter(|c| writes(c)).count() {
        0 => candidates.iter().collect(),
        _ => candidates.iter().filter(|c| writes(c)).collect(),
    };
    let mut out = header(args, &touch, candidates.len());
    for candidate in writers {
        out.push('\n');
        out.push_str(&describe(cluster, candidate).await);
    }
    Ok(out)
}

fn header(args: &TraceArgs, touch: &Touch, runs: usize) -> String {
    let subject = touch.message.lines().next().unwrap_or_default();
    let verb = if touch.deleted { "deleted" } else { "written" };
    let mut out = format!(
        "File:        {} ({verb})\nRepository:  {} branch {}\nCommit:      {} {} \"{subject}\"\n",
        args.path,
        redact_url(&args.repo),
        args.branch,
        table::short_sha(&touch.commit),
        touch.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    );
    if runs > 1 {
        out.push_str(&format!("Coalesced:   {runs} runs in this commit\n"));
    }
    out
}

/// A `Gco-Object` value, `<namespace>/<Kind>/<name>`, read from the cluster.
async fn lookup(cluster: &Cluster, label: &str) -> Result<Exported, CliError> {
    let mut parts = label.splitn(3, '/');
    let (Some(namespace), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(CliError::Failed(format!(
            "{label:?} is not <namespace>/<Kind>/<name>"
        )));
    };
    let kind = ExportKind::from_kind(kind)
        .ok_or_else(|| CliError::Failed(format!("{kind} is not a kind of this operator")))?;
    let in_namespace = Cluster {
        client: cluster.client.clone(),
        namespace: namespace.to_owned(),
    };
    in_namespace
        .get(&Target {
            kind,
            name: name.to_owned(),
        })
        .await
}

/// The writer's block: object, run, Ready, policies, last events.
async fn describe(cluster: &Cluster, candidate: &Candidate) -> String {
    let object = match &candidate.found {
        Ok(object) => object,
        Err(error) => {
            return format!(
                "Object:      {} (run {})\nNow:         {error}\n",
                candidate.label, candidate.run
            );
        }
    };
    let target = format!("{}/{}", kind_word(object.kind()), object.name());
    let mut out = format!(
        "Object:      {target} in namespace {} (run {})\n",
        object.namespace(),
        candidate.run
    );
    let ready = object.condition("Ready").map_or_else(
        || "Unknown (no status yet)".to_owned(),
        |c| format!("{} {}: {}", c.status, c.reason, c.message),
    );
    out.push_str(&format!("Ready:       {ready}\n"));
    if object.export().suspend {
        out.push_str("Suspended:   True\n");
    }
    out.push_str(&format!(
        "Policies:    {}\n",
        policies(cluster, &object.namespace()).await
    ));
    match events::for_object(cluster, object).await {
        Ok(list) if list.is_empty() => out.push_str("Events:      none\n"),
        Ok(list) => {
            let last = &list[list.len().saturating_sub(LAST_EVENTS)..];
            out.push_str("Events:\n");
            for line in events::render(last, Timestamp::now()).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        Err(error) => out.push_str(&format!("Events:      {error}\n")),
    }
    out
}

/// The names of the GitExportPolicies that select `namespace`, or why they cannot be told.
async fn policies(cluster: &Cluster, namespace: &str) -> String {
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let labels: BTreeMap<String, String> = match namespaces.get(namespace).await {
        Ok(ns) => ns.labels().clone(),
        Err(error) => {
            return format!(
                "unknown ({})",
                CliError::kube(format!("get namespace {namespace}"), error)
            );
        }
    };
    let api: Api<GitExportPolicy> = Api::all(cluster.client.clone());
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let names: Vec<String> = rules::matching(&list.items, &labels)
                .into_iter()
                .map(|p| p.name_any())
                .collect();
            match names.is_empty() {
                true => "none (only the built-in rules)".to_owned(),
                false => names.join(", "),
            }
        }
        Err(error) => format!(
            "unknown ({})",
            CliError::kube("list GitExportPolicies", error)
        ),
    }
}
