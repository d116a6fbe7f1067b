//! Rendering: Kubernetes objects and a spec's `files` / `resourceReferences` become the list of
//! files a run writes (docs/architecture.md, Safe paths). Pure: no I/O, no clock (the run's instant is passed in).
//!
//! Placeholders in paths and contents are rendered first, then every path goes through
//! [`gco_api::paths::check_path`], so a write that leaves this module is safe to put in a tree.

mod clean;
mod fields;
pub mod offline;
mod placement;
pub mod templates;

use gco_api::{
    ExportSpec, FileSpec, ResourceReference, Strategy, Target, WriteMode,
    paths::{PathError, SafePath, check_path},
    placeholders::{self, PlaceholderError},
};
use jiff::Timestamp;
use serde_json::Value;

pub use clean::{Ordering, clean_for_apply, to_yaml};
pub use placement::{Guard, Placement, place};

/// One file a run writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedWrite {
    /// Where, relative to the repository root.
    pub path: SafePath,
    /// What: the whole file for `overwrite`, the part to add for `append`.
    pub content: Vec<u8>,
    /// How it meets a file already on the branch.
    pub mode: Placement,
}

/// Why a spec could not be rendered. Each names the spec field at fault.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{field}: {source}")]
    Placeholder {
        field: String,
        source: PlaceholderError,
    },
    #[error("{field}: {source}")]
    Path { field: String, source: PathError },
    #[error(
        "{field}: {kind} {namespace}/{name} was not found (set `optional: true` to skip it when missing)"
    )]
    ReferenceNotFound {
        field: String,
        kind: String,
        namespace: String,
        name: String,
    },
    #[error(
        "{field}: {kind} {name} has no `data` or `binaryData`: use `strategy: dump` or `single-field` with a path such as `spec.replicas`"
    )]
    NoDataFields {
        field: String,
        kind: String,
        name: String,
    },
    #[error(
        "{field}: {kind} {name} has no key or field {path:?}: name a `data`/`binaryData` key, or a dotted path such as `spec.replicas` or `metadata.labels.app`"
    )]
    FieldNotFound {
        field: String,
        kind: String,
        name: String,
        path: String,
    },
    #[error(
        "{field}: `single-field` needs `field`: name a `data`/`binaryData` key or a dotted path such as `spec.replicas`"
    )]
    MissingField { field: String },
    #[error("{field}: key {key:?} is not valid base64: {reason}")]
    BadBase64 {
        field: String,
        key: String,
        reason: String,
    },
    #[error("{field}: the object cannot be written as YAML: {reason}")]
    Yaml { field: String, reason: String },
    #[error("{field}: give exactly one of `name` (one object) and `selector` (every match)")]
    Target { field: String },
    #[error(
        "{field}: path {path:?} is written twice in one run (also by {other}); give each file its own path, or use `writeMode: append` for both"
    )]
    DuplicatePath {
        field: String,
        other: String,
        path: String,
    },
}

/// Renders a whole spec. `objects[i]` holds the live objects `spec.resourceReferences[i]`
/// found: by name, the object, or nothing when it does not exist (skipped if the reference is
/// `optional`); by selector, every match. `at` is the run's one instant, used by every
/// placeholder.
pub fn render(
    spec: &ExportSpec,
    objects: &[Vec<Value>],
    at: Timestamp,
) -> Result<Vec<PlannedWrite>, RenderError> {
    render_owned(spec, objects, at).map(|(writes, _)| writes)
}

/// As [`render`], with the spec field each write comes from (`spec.files[0].path`,
/// `spec.resourceReferences[2].output.path`), for rules applied to the rendered paths.
pub fn render_owned(
    spec: &ExportSpec,
    objects: &[Vec<Value>],
    at: Timestamp,
) -> Result<(Vec<PlannedWrite>, Vec<String>), RenderError> {
    let mut writes = Vec::new();
    let mut owners: Vec<String> = Vec::new();
    for (index, file) in spec.files.iter().enumerate() {
        let field = format!("spec.files[{index}]");
        writes.push(render_file(file, spec.write_mode(), at, &field)?);
        owners.push(field);
    }
    for (index, reference) in spec.resource_references.iter().enumerate() {
        let field = format!("spec.resourceReferences[{index}]");
        let found = objects.get(index).map(Vec::as_slice).unwrap_or_default();
        let target = reference.target().ok_or_else(|| RenderError::Target {
            field: format!("{field}.name"),
        })?;
        let rendered = match (target, found.first()) {
            (Target::Named(_), Some(object)) => {
                render_reference(reference, object, spec.write_mode(), at, &field)?
            }
            (Target::Named(_), None) if reference.optional => continue,
            (Target::Named(name), None) => {
                return Err(RenderError::ReferenceNotFound {
                    kind: reference.kind.clone(),
                    namespace: reference.namespace.clone().unwrap_or_default(),
                    name: name.to_owned(),
                    field,
                });
            }
            (Target::Selected { namespaces, .. }, _) => {
                let mut rendered = Vec::new();
                for object in found {
                    let folder = Folder::Selected {
                        by_namespace: namespaces.is_some(),
                    };
                    rendered.extend(render_object(
                        reference,
                        object,
                        folder,
                        spec.write_mode(),
                        at,
                        &field,
                    )?);
                }
                rendered
            }
        };
        for write in rendered {
            writes.push(write);
            owners.push(field.clone());
        }
    }
    check_duplicates(&writes, &owners)?;
    let fields = owners
        .into_iter()
        .map(|owner| match owner.starts_with("spec.files[") {
            true => format!("{owner}.path"),
            false => format!("{owner}.output.path"),
        })
        .collect();
    Ok((writes, fields))
}

/// Renders one inline file; `field` is its spec path, e.g. `spec.files[0]`.
pub fn render_file(
    file: &FileSpec,
    default_mode: WriteMode,
    at: Timestamp,
    field: &str,
) -> Result<PlannedWrite, RenderError> {
    let path = render_path(&file.path, at, &format!("{field}.path"))?;
    let mode = Placement::of(file.write_mode.unwrap_or(default_mode), &path, false);
    let content =
        placeholders::render(&file.content, at).map_err(|source| RenderError::Placeholder {
            field: format!("{field}.content"),
            source,
        })?;
    Ok(PlannedWrite {
        path,
        content: content.into_bytes(),
        mode,
    })
}

/// Renders one object a reference names with its strategy; `field` is the reference's spec
/// path.
pub fn render_reference(
    reference: &ResourceReference,
    object: &Value,
    default_mode: WriteMode,
    at: Timestamp,
    field: &str,
) -> Result<Vec<PlannedWrite>, RenderError> {
    render_object(reference, object, Folder::Named, default_mode, at, field)
}

/// How `output.path` places an object's files.
#[derive(Clone, Copy)]
enum Folder {
    /// A reference by name: `output.path` is the file (`dump`, `single-field`), or the
    /// folder of the keys (`fields`); a `dump` path ending in `/` means `<path><name>.yaml`.
    Named,
    /// A selector: `output.path` is a folder holding one entry per object, in a folder per
    /// namespace when a `namespaceSelector` spans several.
    Selected { by_namespace: bool },
}

fn render_object(
    reference: &ResourceReference,
    object: &Value,
    folder: Folder,
    default_mode: WriteMode,
    at: Timestamp,
    field: &str,
) -> Result<Vec<PlannedWrite>, RenderError> {
    let mode = reference.write_mode.unwrap_or(default_mode);
    let path_field = format!("{field}.output.path");
    let raw_path = placeholders::render(&reference.output.path, at).map_err(|source| {
        RenderError::Placeholder {
            field: path_field.clone(),
            source,
        }
    })?;
    let who = Who::of(reference, object);
    // `yaml`: the content is a YAML document (a `dump`), whatever the file is named.
    let planned = |path: &str, content: Vec<u8>, yaml: bool| -> Result<PlannedWrite, RenderError> {
        let path = check_path(path).map_err(|source| RenderError::Path {
            field: path_field.clone(),
            source,
        })?;
        Ok(PlannedWrite {
            mode: Placement::of(mode, &path, yaml),
            path,
            content,
        })
    };
    // For a selector: the object's own entry in the folder, `<folder>[/<namespace>]/<name>`.
    let entry = |by_namespace: bool| {
        let folder = raw_path.trim_end_matches('/');
        match object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
        {
            Some(namespace) if by_namespace => format!("{folder}/{namespace}/{}", who.name),
            _ => format!("{folder}/{}", who.name),
        }
    };
    match reference.strategy {
        Strategy::Dump => {
            let path = match folder {
                Folder::Selected { by_namespace } => format!("{}.yaml", entry(by_namespace)),
                Folder::Named => match raw_path.strip_suffix('/') {
                    Some(folder) => format!("{folder}/{}.yaml", who.name),
                    None => raw_path.clone(),
                },
            };
            let yaml = to_yaml(&clean_for_apply(object)).map_err(|reason| RenderError::Yaml {
                field: field.to_owned(),
                reason,
            })?;
            Ok(vec![planned(&path, yaml.into_bytes(), true)?])
        }
        Strategy::Fields => {
            let folder = match folder {
                Folder::Selected { by_namespace } => entry(by_namespace),
                Folder::Named => raw_path.trim_end_matches('/').to_owned(),
            };
            fields::data_entries(object, field, &who)?
                .into_iter()
                .map(|(key, content)| planned(&format!("{folder}/{key}"), content, false))
                .collect()
        }
        Strategy::SingleField => {
            let Some(name) = reference.field.as_deref() else {
                return Err(RenderError::MissingField {
                    field: format!("{field}.field"),
                });
            };
            let path = match folder {
                Folder::Selected { by_namespace } => entry(by_namespace),
                Folder::Named => raw_path.clone(),
            };
            let content = fields::single_field(object, name, field, &who)?;
            Ok(vec![planned(&path, content, false)?])
        }
    }
}

/// Kind and name of an object, for messages and `dump`'s `<name>.yaml`.
pub(crate) struct Who {
    pub kind: String,
    pub name: String,
}

impl Who {
    fn of(reference: &ResourceReference, object: &Value) -> Self {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .or(reference.name.as_deref())
            .unwrap_or_default();
        Who {
            kind: reference.kind.clone(),
            name: name.to_owned(),
        }
    }
}

fn render_path(template: &str, at: Timestamp, field: &str) -> Result<SafePath, RenderError> {
    let rendered =
        placeholders::render(template, at).map_err(|source| RenderError::Placeholder {
            field: field.to_owned(),
            source,
        })?;
    check_path(&rendered).map_err(|source| RenderError::Path {
        field: field.to_owned(),
        source,
    })
}

/// Two writes to one path are only meaningful when both append (in spec order).
fn check_duplicates(writes: &[PlannedWrite], owners: &[String]) -> Result<(), RenderError> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (index, write) in writes.iter().enumerate() {
        if let Some(&first) = seen.get(write.path.as_str()) {
            let both_append = write.mode.appends() && writes[first].mode.appends();
            if !both_append {
                return Err(RenderError::DuplicatePath {
                    field: owners[index].clone(),
                    other: owners[first].clone(),
                    path: write.path.to_string(),
                });
            }
        } else {
            seen.insert(write.path.as_str(), index);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
