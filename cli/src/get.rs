//! `get`: GitCommits and PullRequests as a table (or JSON / YAML), once or as they change.

use std::io::Write as _;

use futures::{StreamExt as _, TryStreamExt as _, stream};
use gco_api::ExportKind;
use jiff::Timestamp;
use kube::{
    Api,
    runtime::{WatchStreamExt as _, watcher},
};
use serde_json::{Value, json};

use crate::{
    cluster::Cluster,
    error::CliError,
    object::Exported,
    table::{self, Cell},
    target::{KindArg, kind_word},
};

/// How `get` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Table,
    Json,
    Yaml,
}

/// `get` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct GetArgs {
    /// gitcommits (gc) or pullrequests (pr); both when left out.
    pub kind: Option<KindArg>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// table, json or yaml.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Output,
    /// Keep printing objects as they change (table only).
    #[arg(short = 'w', long)]
    pub watch: bool,
}

/// The table's columns; NAMESPACE first with `-A`.
const HEADERS: [&str; 9] = [
    "NAME",
    "READY",
    "REASON",
    "SUSPENDED",
    "REPOSITORY",
    "BRANCH/PR",
    "COMMIT",
    "LAST RUN",
    "NEXT RUN",
];

/// Which kinds `get` lists, and how it names them.
struct Selection {
    kinds: Vec<ExportKind>,
    /// Names are `kind/name` when both kinds are listed, as `kubectl get a,b` prints them.
    qualified: bool,
    namespace: Option<String>,
}

pub async fn run(cluster: &Cluster, args: &GetArgs) -> Result<(), CliError> {
    let selection = Selection {
        kinds: match args.kind {
            Some(KindArg(kind)) => vec![kind],
            None => vec![ExportKind::GitCommit, ExportKind::PullRequest],
        },
        qualified: args.kind.is_none(),
        namespace: (!args.all_namespaces).then(|| cluster.namespace.clone()),
    };
    if args.watch && args.output != Output::Table {
        return Err(CliError::Usage(
            "--watch prints a table: leave out -o, or use `kubectl get -w -o yaml`".into(),
        ));
    }
    let mut objects = Vec::new();
    for kind in &selection.kinds {
        objects.extend(cluster.list(*kind, selection.namespace.as_deref()).await?);
    }
    let text = match args.output {
        Output::Table if objects.is_empty() => no_objects(&selection),
        Output::Table => render(&objects, &selection, Timestamp::now(), true),
        Output::Json => serde_json::to_string_pretty(&as_list(&objects))
            .map(|t| t + "\n")
            .map_err(|e| CliError::Failed(format!("cannot print JSON: {e}")))?,
        Output::Yaml => serde_saphyr::to_string(&as_list(&objects))
            .map_err(|e| CliError::Failed(format!("cannot print YAML: {e}")))?,
    };
    print(&text);
    if args.watch {
        watch(cluster, &selection).await?;
    }
    Ok(())
}

fn print(text: &str) {
    let mut out = anstream::stdout();
    // A closed pipe (`| head`) ends the output, not the program with a panic.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn no_objects(selection: &Selection) -> String {
    match &selection.namespace {
        Some(ns) => format!("No resources found in {ns} namespace.\n"),
        None => "No resources found.\n".to_owned(),
    }
}

/// A `v1` `List`, as `kubectl get -o yaml` prints several objects: without managedFields,
/// which kubectl hides too.
fn as_list(objects: &[Exported]) -> Value {
    let items: Vec<Value> = objects
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .map(|mut item| {
            if let Some(metadata) = item.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
            item
        })
        .collect();
    json!({ "apiVersion": "v1", "kind": "List", "items": items })
}

/// The table of `objects`, with or without its header line.
fn render(objects: &[Exported], selection: &Selection, now: Timestamp, header: bool) -> String {
    let all = selection.namespace.is_none();
    let mut headers: Vec<&str> = HEADERS.to_vec();
    if all {
        headers.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<Cell>> = objects
        .iter()
        .map(|o| row(o, now, all, selection.qualified))
        .collect();
    let text = table::render(&headers, &rows);
    match header {
        true => text,
        false => text
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default(),
    }
}

/// One object's cells, in [`HEADERS`] order.
fn row(object: &Exported, now: Timestamp, namespace: bool, qualified: bool) -> Vec<Cell> {
    let status = object.status();
    let ready = object.condition("Ready");
    let name = match qualified {
        true => format!("{}/{}", kind_word(object.kind()), object.name()),
        false => object.name(),
    };
    let mut cells = Vec::new();
    if namespace {
        cells.push(Cell::plain(object.namespace()));
    }
    cells.push(Cell::plain(name));
    cells.push(Cell::status(ready.map_or("Unknown", |c| c.status.as_str())));
    cells.push(Cell::plain(ready.map_or("-", |c| c.reason.as_str())));
    cells.push(Cell::plain(if object.export().suspend {
        "True"
    } else {
        "False"
    }));
    cells.push(Cell::plain(object.repository()));
    cells.push(Cell::plain(object.destination()));
    cells.push(Cell::plain(
        status
            .and_then(|s| s.commit_sha.as_deref())
            .map_or_else(|| "-".to_owned(), table::short_sha),
    ));
    cells.push(Cell::plain(
        status
            .and_then(|s| s.last_sync.as_ref())
            .map_or_else(|| "-".to_owned(), |t| table::age(now, t.0)),
    ));
    cells.push(Cell::plain(
        status
            .and_then(|s| s.next_scheduled_time.as_ref())
            .map_or_else(|| "-".to_owned(), |t| table::until(now, t.0)),
    ));
    cells
}

/// Prints a row each time an object is added or changes, until interrupted.
async fn watch(cluster: &Cluster, selection: &Selection) -> Result<(), CliError> {
    let config = watcher::Config::default();
    let mut streams = Vec::new();
    for kind in &selection.kinds {
        let ns = selection.namespace.as_deref();
        let client = cluster.client.clone();
        let stream = match kind {
            ExportKind::GitCommit => {
                let api: Api<gco_api::GitCommit> = match ns {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                };
                watcher(api, config.clone())
                    .applied_objects()
                    .map_ok(|o| Exported::GitCommit(Box::new(o)))
                    .boxed()
            }
            ExportKind::PullRequest => {
                let api: Api<gco_api::PullRequest> = match ns {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                };
                watcher(api, config.clone())
                    .applied_objects()
                    .map_ok(|o| Exported::PullRequest(Box::new(o)))
                    .boxed()
            }
        };
        streams.push(stream);
    }
    let mut changes = stream::select_all(streams);
    // The watch starts with every object that exists, already printed above.
    let mut seen = std::collections::HashSet::new();
    while let Some(change) = changes.next().await {
        let object = change.map_err(|e| CliError::Failed(format!("the watch failed: {e}")))?;
        let version = match &object {
            Exported::GitCommit(o) => o.metadata.resource_version.clone(),
            Exported::PullRequest(o) => o.metadata.resource_version.clone(),
        };
        if seen.insert((object.namespace(), object.name(), version)) {
            print(&render(&[object], selection, Timestamp::now(), false));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::gitcommit;

    #[test]
    fn a_row_shows_ready_reason_repository_commit_and_times() {
        let now: Timestamp = "2026-01-02T00:10:00Z".parse().expect("now");
        let object = gitcommit(json!({
            "observedGeneration": 2,
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Succeeded", "message": "m",
                              "lastTransitionTime": "2026-01-02T00:00:00Z" }],
            "commitSHA": "0123456789abcdef",
            "lastSync": "2026-01-02T00:05:00Z",
            "nextScheduledTime": "2026-01-02T01:00:00Z",
        }));
        let texts: Vec<String> = row(&object, now, true, true)
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(
            texts,
            [
                "team",
                "gitcommit/app",
                "True",
                "Succeeded",
                "False",
                "https://***@example.com/r.git",
                "main",
                "0123456",
                "5m",
                "in 50m"
            ]
        );
    }

    #[test]
    fn an_object_never_run_shows_dashes() {
        let now = Timestamp::now();
        let texts: Vec<String> = row(&gitcommit(json!({})), now, false, false)
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(texts[0], "app");
        assert_eq!(texts[1], "Unknown");
        assert_eq!(&texts[6..], ["-", "-", "-"]);
    }
}
