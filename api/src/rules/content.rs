//! Rules on what is written: placeholders in every templated field, path safety and the
//! policies' path prefixes, and the size limits.

use jiff::Timestamp;
use kube::ResourceExt;

use super::{ExportRequest, Rule, Violation, Violations, repository::short};
use crate::common::Strategy;
use crate::paths;
use crate::placeholders;
use crate::policy::GitExportPolicy;

/// The most files and references one object may list when no policy says less: beyond it a
/// run is a bulk dump that belongs in several objects (and near etcd's object size limit).
pub const BUILTIN_MAX_FILES: usize = 1000;

/// Checks placeholders, paths, prefixes and limits.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    if let Some(message) = request.commit.and_then(|c| c.message.as_deref()) {
        check_template("spec.commit.message", message, true, out);
    }
    if let Some(pr) = request.pull_request {
        check_template("spec.pullRequest.title", &pr.title, true, out);
        // Bodies are Markdown, where backticks are code spans, not commands.
        check_template("spec.pullRequest.body", &pr.body, false, out);
    }
    for (index, file) in request.export.files.iter().enumerate() {
        let field = format!("spec.files[{index}].path");
        if let Some(path) = rendered_path(&field, &file.path, out) {
            check_path(&field, &path, policies, out);
        }
        check_template(
            &format!("spec.files[{index}].content"),
            &file.content,
            false,
            out,
        );
    }
    for (index, reference) in request.export.resource_references.iter().enumerate() {
        let field = format!("spec.resourceReferences[{index}].output.path");
        if let Some(path) = rendered_path(&field, &reference.output.path, out) {
            let path = written_path(&path, reference.strategy, &reference.name);
            check_path(&field, &path, policies, out);
        }
    }
    check_limits(request, policies, out);
}

/// The path a reference's `output.path` writes: `dump` to `<path><name>.yaml` when it ends in
/// `/`, `fields` into the folder (its trailing `/` is only a hint).
pub fn written_path(path: &str, strategy: Strategy, name: &str) -> String {
    match (strategy, path.strip_suffix('/')) {
        (Strategy::Dump, Some(_)) => format!("{path}{name}.yaml"),
        (Strategy::Fields, Some(folder)) => folder.to_owned(),
        _ => path.to_owned(),
    }
}

/// Checks a templated field; `strict` also refuses backticks, the other shell command
/// substitution, where no Markdown is expected.
fn check_template(field: &str, template: &str, strict: bool, out: &mut Violations) {
    if let Err(error) = placeholders::validate(template) {
        out.push(Violation::new(
            field,
            Rule::Placeholder,
            error.to_string(),
            format!("use only {}", placeholders::SUPPORTED_FORMS),
        ));
    } else if strict && template.contains('`') {
        out.push(backtick(field, template));
    }
}

fn backtick(field: &str, template: &str) -> Violation {
    Violation::new(
        field,
        Rule::Placeholder,
        format!(
            "{:?} contains a backtick, which reads as shell command substitution; nothing is run by a shell",
            short(template)
        ),
        format!(
            "remove the backticks; the only placeholders are {}",
            placeholders::SUPPORTED_FORMS
        ),
    )
}

/// A path template rendered at a fixed instant (the digits do not change its safety), or a
/// violation.
fn rendered_path(field: &str, template: &str, out: &mut Violations) -> Option<String> {
    if template.contains('`') {
        out.push(backtick(field, template));
        return None;
    }
    match placeholders::render(template, Timestamp::UNIX_EPOCH) {
        Ok(path) => Some(path),
        Err(error) => {
            out.push(Violation::new(
                field,
                Rule::Placeholder,
                error.to_string(),
                format!("use only {}", placeholders::SUPPORTED_FORMS),
            ));
            None
        }
    }
}

fn check_path(field: &str, path: &str, policies: &[&GitExportPolicy], out: &mut Violations) {
    if let Err(error) = paths::check_path(path) {
        out.push(Violation::new(
            field,
            Rule::PathSafety,
            error.to_string(),
            "write a relative path of plain folder and file names, e.g. `clusters/production/app.yaml`",
        ));
        return;
    }
    for policy in policies {
        let Some(prefixes) = policy.spec.paths.as_ref().map(|p| &p.allowed_prefixes) else {
            continue;
        };
        if prefixes.is_empty()
            || prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        {
            continue;
        }
        let name = policy.name_any();
        out.push(Violation::new(
            field,
            Rule::PathPrefix,
            format!(
                "path {:?} is outside the prefixes GitExportPolicy {name:?} allows",
                short(path)
            ),
            format!(
                "write a path starting with one of {prefixes:?}, or ask a cluster admin to add a prefix to `spec.paths.allowedPrefixes` of GitExportPolicy {name:?}"
            ),
        ));
    }
}

fn check_limits(request: &ExportRequest<'_>, policies: &[&GitExportPolicy], out: &mut Violations) {
    let count = request.export.files.len() + request.export.resource_references.len();
    let (limit, source) = policies
        .iter()
        .filter_map(|p| Some((usize::try_from(p.spec.limits.as_ref()?.max_files?).ok()?, p)))
        .min_by_key(|(limit, _)| *limit)
        .filter(|(limit, _)| *limit < BUILTIN_MAX_FILES)
        .map_or((BUILTIN_MAX_FILES, None), |(limit, p)| {
            (limit, Some(p.name_any()))
        });
    if count > limit {
        let fix = match &source {
            Some(name) => format!(
                "split the export into several objects of at most {limit} entries, or ask a cluster admin to raise `spec.limits.maxFiles` of GitExportPolicy {name:?}"
            ),
            None => format!(
                "split the export into several objects of at most {limit} entries (the built-in ceiling)"
            ),
        };
        out.push(Violation::new(
            "spec.files",
            Rule::MaxFiles,
            format!("{count} files and references exceed the limit of {limit}"),
            fix,
        ));
    }
    let byte_limit = policies
        .iter()
        .filter_map(|p| Some((p.spec.limits.as_ref()?.max_file_bytes?, p)))
        .min_by_key(|(limit, _)| *limit);
    let Some((byte_limit, policy)) = byte_limit else {
        return;
    };
    for (index, file) in request.export.files.iter().enumerate() {
        let len = file.content.len() as u64;
        if len > byte_limit {
            let name = policy.name_any();
            out.push(Violation::new(
                format!("spec.files[{index}].content"),
                Rule::MaxFileBytes,
                format!("the content is {len} bytes, more than the {byte_limit} GitExportPolicy {name:?} allows"),
                format!(
                    "write a shorter file, export the data from a ConfigMap instead, or ask a cluster admin to raise `spec.limits.maxFileBytes` of GitExportPolicy {name:?}"
                ),
            ));
        }
    }
}

/// The normal form of a path as people write it: `.` components and repeated `/` dropped, a
/// trailing `/` kept (it marks a folder for `dump` and `fields`). Everything the rules refuse
/// (`..`, absolute paths, backslashes) is left as written, so it is refused, not rewritten;
/// paths with placeholders are left alone, because a `/` may belong to the date format.
pub fn normalise_path(path: &str) -> String {
    if path.starts_with('/') || path.contains("$(") {
        return path.to_owned();
    }
    let kept: Vec<&str> = path
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
        .collect();
    if kept.is_empty() {
        return path.to_owned();
    }
    let mut normal = kept.join("/");
    if path.ends_with('/') {
        normal.push('/');
    }
    normal
}
