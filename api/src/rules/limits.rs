//! Size limits of one object: how many files it writes, and how large its inline files are
//! once their placeholders are rendered.

use kube::ResourceExt;

use super::{ExportRequest, Rule, Violation, Violations};
use crate::placeholders;
use crate::policy::GitExportPolicy;

/// The most files and references one object may list when no policy says less: beyond it a
/// run is a bulk dump that belongs in several objects (and near etcd's object size limit).
/// Also the largest `limits.maxFiles` a policy may set.
pub const BUILTIN_MAX_FILES: usize = 1000;

/// The largest inline file, in bytes once rendered, when no policy says less: what the CRD
/// schema allows `files[].content` to be as written. Also the largest `limits.maxFileBytes`.
pub const BUILTIN_MAX_FILE_BYTES: usize = 1024 * 1024;

/// Checks `limits.maxFiles` and `limits.maxFileBytes` of every policy, and the built-in
/// ceilings; the tightest limit wins.
pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    check_count(request, policies, out);
    check_bytes(request, policies, out);
}

/// The tightest of the policies' limits and the built-in ceiling, with the policy that set it.
fn tightest(
    policies: &[&GitExportPolicy],
    limit: impl Fn(&GitExportPolicy) -> Option<u32>,
    ceiling: usize,
) -> (usize, Option<String>) {
    policies
        .iter()
        .filter_map(|p| Some((usize::try_from(limit(p)?).ok()?, p)))
        .min_by_key(|(limit, _)| *limit)
        .filter(|(limit, _)| *limit < ceiling)
        .map_or((ceiling, None), |(limit, p)| (limit, Some(p.name_any())))
}

/// The most files one object may write under `policies`: what bounds a selector's matches.
pub fn max_files(policies: &[&GitExportPolicy]) -> usize {
    tightest(
        policies,
        |p| p.spec.limits.as_ref()?.max_files,
        BUILTIN_MAX_FILES,
    )
    .0
}

/// The run-time half of `limits.maxFiles`: the files a run actually renders (a selector's
/// matches, a `fields` export's keys), not only the entries the spec lists.
pub fn check_rendered_count(policies: &[&GitExportPolicy], count: usize) -> Result<(), Violations> {
    let (limit, source) = tightest(
        policies,
        |p| p.spec.limits.as_ref()?.max_files,
        BUILTIN_MAX_FILES,
    );
    if count <= limit {
        return Ok(());
    }
    let fix = match &source {
        Some(name) => format!(
            "narrow the selectors or split the export into several objects, or ask a cluster admin to raise `spec.limits.maxFiles` of GitExportPolicy {name:?}"
        ),
        None => "narrow the selectors or split the export into several objects".to_owned(),
    };
    let mut out = Violations::default();
    out.push(Violation::new(
        "spec.resourceReferences",
        Rule::MaxFiles,
        format!("the run renders {count} files, over the limit of {limit}"),
        fix,
    ));
    Err(out)
}

fn check_count(request: &ExportRequest<'_>, policies: &[&GitExportPolicy], out: &mut Violations) {
    let count = request.export.files.len() + request.export.resource_references.len();
    let (limit, source) = tightest(
        policies,
        |p| p.spec.limits.as_ref()?.max_files,
        BUILTIN_MAX_FILES,
    );
    if count <= limit {
        return;
    }
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

/// Compares each file's rendered size with the limit. The size is bounded rather than
/// rendered at some instant: each placeholder counts at its longest rendering over every
/// instant (`placeholders::max_rendered_len`), so a content admitted now can never render
/// past the limit later (`$(date +%99Y)` counts as 99 bytes, its width).
fn check_bytes(request: &ExportRequest<'_>, policies: &[&GitExportPolicy], out: &mut Violations) {
    let (limit, source) = tightest(
        policies,
        |p| p.spec.limits.as_ref()?.max_file_bytes,
        BUILTIN_MAX_FILE_BYTES,
    );
    for (index, file) in request.export.files.iter().enumerate() {
        // A template that does not parse is refused by the placeholder rule.
        let Ok(len) = placeholders::max_rendered_len(&file.content) else {
            continue;
        };
        if len <= limit {
            continue;
        }
        let written = file.content.len();
        let size = if written == len {
            format!("the content is {len} bytes")
        } else {
            format!(
                "the content renders to up to {len} bytes ({written} as written; each placeholder counts at its longest)"
            )
        };
        let (message, fix) = match &source {
            Some(name) => (
                format!("{size}, more than the {limit} GitExportPolicy {name:?} allows"),
                format!(
                    "write a shorter file, export the data from a ConfigMap instead, or ask a cluster admin to raise `spec.limits.maxFileBytes` of GitExportPolicy {name:?}"
                ),
            ),
            None => (
                format!("{size}, more than the built-in ceiling of {limit}"),
                "write a shorter file, or export the data from a ConfigMap instead".to_owned(),
            ),
        };
        out.push(Violation::new(
            format!("spec.files[{index}].content"),
            Rule::MaxFileBytes,
            message,
            fix,
        ));
    }
}
