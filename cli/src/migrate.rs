//! `migrate -f FILE`: the original Go operator's 1.2.x GitCommits and PullRequests, converted
//! into this API ([`convert`]). The converted manifests go to stdout, ready for `kubectl
//! apply -f -`; what has no equivalent, or needs a hand, goes to stderr, per object. Other
//! objects of the file (Secrets) pass through unchanged; a `List` (`kubectl get -o yaml`) is
//! converted item by item. docs/install.md gives the order of a migration.

pub mod convert;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde_json::Value;

use crate::{error::CliError, style};
use convert::Converted;

/// `migrate` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct MigrateArgs {
    /// A manifest file of the old operator's objects (`-` reads stdin).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: PathBuf,
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
    let name = format!(
        "{}/{}",
        manifest["kind"].as_str().unwrap_or("?").to_lowercase(),
        manifest["metadata"]["name"].as_str().unwrap_or("?")
    );
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

/// Reads the file, prints the converted stream and the notes; fails when an object was left
/// out.
pub fn run(args: &MigrateArgs) -> Result<String, CliError> {
    let io = |reason: std::io::Error| CliError::Io {
        what: format!("read {}", args.file.display()),
        reason: reason.to_string(),
    };
    let text = match args.file.as_os_str() == "-" {
        true => std::io::read_to_string(std::io::stdin()).map_err(io)?,
        false => std::fs::read_to_string(&args.file).map_err(io)?,
    };
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| CliError::Io {
        what: format!("parse {} as YAML", args.file.display()),
        reason: e.to_string(),
    })?;
    let migration = migrate(&documents);
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
        print!("{out}");
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
