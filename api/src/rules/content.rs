//! Rules on what is written: placeholders in every templated field, and path safety and the
//! policies' path prefixes (rules/prefix.rs) of every path as rendered at admission.

use jiff::Timestamp;

use super::{ExportRequest, Rule, Violation, Violations, prefix, repository::short};
use crate::common::{Strategy, Target};
use crate::placeholders;
use crate::policy::GitExportPolicy;

/// Checks placeholders, paths and prefixes.
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
            prefix::check(&field, &path, false, policies, out);
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
            // A selector's files go under its folder, named after objects not known yet.
            let (path, is_folder) = match reference.target() {
                Some(Target::Named(name)) => (
                    written_path(&path, reference.strategy, name),
                    reference.strategy == Strategy::Fields,
                ),
                _ => (path.trim_end_matches('/').to_owned(), true),
            };
            prefix::check(&field, &path, is_folder, policies, out);
        }
    }
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

/// A path template rendered at a fixed instant, or a violation. The digits a date renders do
/// not change a path's safety; the folder it lands in may, which is why the controller checks
/// the paths of each run again as rendered (`check_rendered_paths`).
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
