//! `migrate -f FILE` and `migrate --live`: the original Go operator's 1.2.x GitCommits and
//! PullRequests, from a manifest file or read from the cluster ([`live`]), converted into this
//! API ([`convert`]). Both sources go through [`migrate`] and the same printing. The converted
//! manifests go to stdout, ready for `kubectl apply -f -`; what has no equivalent, or needs a
//! hand, goes to stderr, per object. Other objects of the file (Secrets) pass through
//! unchanged; a `List` (`kubectl get -o yaml`) is converted item by item. docs/install.md gives
//! the order of a migration.

pub mod convert;
pub mod live;
#[cfg(test)]
mod tests;

use std::{io::Write as _, path::PathBuf};

use serde_json::Value;

use crate::{cluster::Cluster, error::CliError, style};
use convert::Converted;

/// `migrate` flags: where the old objects come from, a file or the cluster (one of the two).
#[derive(Clone, Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "live"])))]
pub struct MigrateArgs {
    /// A manifest file of the old operator's objects (`-` reads stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read the old operator's GitCommits and PullRequests from the cluster, while its CRDs are
    /// still installed: in the namespace of -n (else the context's), or every one with -A.
    #[arg(long)]
    pub live: bool,
    /// With --live: every namespace.
    #[arg(short = 'A', long, conflicts_with = "file")]
    pub all_namespaces: bool,
}

/// The converted manifests, and the notes and refusals to print about them.
#[derive(Debug, Default, PartialEq)]
pub struct Migration {
    pub objects: Vec<Value>,
    /// (object, note), in the order of the file.
    pub notes: Vec<(String, String)>,
    /// (object, why it was left out).
    pub refused: Vec<(String, String)>,
}

/// Converts every document of a YAML stream.
pub fn migrate(documents: &[Value]) -> Migration {
    let mut migration = Migration::default();
    for document in documents {
        match document["items"].as_array() {
            Some(items) if document["kind"] == "List" => {
                items.iter().for_each(|item| add(&mut migration, item));
            }
            _ => add(&mut migration, document),
        }
    }
    migration
}

fn add(migration: &mut Migration, manifest: &Value) {
    if manifest.is_null() {
        return;
    }
    let mut name = format!(
        "{}/{}",
        manifest["kind"].as_str().unwrap_or("?").to_lowercase(),
        manifest["metadata"]["name"].as_str().unwrap_or("?")
    );
    // Objects of several namespaces (`--live -A`, an export of `kubectl get -A`) share names.
    if let Some(namespace) = manifest["metadata"]["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
    {
        name = format!("{name} in {namespace}");
    }
    match convert::convert(manifest) {
        Converted::Object { object, notes } => {
            migration.objects.push(object);
            migration
                .notes
                .extend(notes.into_iter().map(|note| (name.clone(), note)));
        }
        Converted::Current(object) => {
            migration.objects.push(object);
            migration.notes.push((
                name,
                "already in this API's shape (spec.repository is an object): spec left as is, \
                 only status and server-set metadata removed"
                    .into(),
            ));
        }
        Converted::Other(object) => migration.objects.push(object),
        Converted::Refused(why) => migration.refused.push((name, why)),
    }
}

/// Reads the file (`-f`) or the cluster (`--live`, with `cluster`), prints the notes and
/// returns the converted stream; fails when an object was left out.
pub async fn run(cluster: Option<&Cluster>, args: &MigrateArgs) -> Result<String, CliError> {
    let documents = match (&args.file, cluster) {
        (Some(file), _) => read_file(file)?,
        (None, Some(cluster)) if args.live => live::read(cluster, args.all_namespaces).await?,
        _ => {
            return Err(CliError::Usage(
                "migrate needs the old objects: -f FILE (an export, `-` for stdin) or --live \
                 (read from the cluster)"
                    .into(),
            ));
        }
    };
    print(&migrate(&documents))
}

/// Every document of a YAML file (`-` is stdin).
fn read_file(file: &std::path::Path) -> Result<Vec<Value>, CliError> {
    let io = |reason: std::io::Error| CliError::Io {
        what: format!("read {}", file.display()),
        reason: reason.to_string(),
    };
    let text = match file.as_os_str() == "-" {
        true => std::io::read_to_string(std::io::stdin()).map_err(io)?,
        false => std::fs::read_to_string(file).map_err(io)?,
    };
    serde_saphyr::from_multiple(&text).map_err(|e| CliError::Io {
        what: format!("parse {} as YAML", file.display()),
        reason: e.to_string(),
    })
}

/// Prints the notes; returns the converted stream, or, when an object was left out, prints
/// the stream and fails naming each.
fn print(migration: &Migration) -> Result<String, CliError> {
    for (object, note) in &migration.notes {
        style::note(&format!("{object}: {note}"));
    }
    let mut out = String::new();
    for object in &migration.objects {
        let yaml = serde_saphyr::to_string(object).map_err(|e| CliError::Failed(e.to_string()))?;
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    if !migration.refused.is_empty() {
        // A closed pipe ends the output, not the program.
        let mut stdout = anstream::stdout();
        let _ = stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush());
        let list: Vec<String> = migration
            .refused
            .iter()
            .map(|(object, why)| format!("{object}: {why}"))
            .collect();
        return Err(CliError::Failed(format!(
            "not converted (the rest is printed above):\n  {}",
            list.join("\n  ")
        )));
    }
    Ok(out)
}
