//! `paths.allowedPrefixes`: every written path lies in one of the folders a policy names.
//!
//! A prefix is a folder, not a string prefix: `clusters` and `clusters/` both admit
//! `clusters/app.yaml` and neither admits `clusters-evil/app.yaml`. The admission webhook can
//! only check a path rendered at a fixed instant, and a date placeholder may render into a
//! different folder at the run's instant (`$(date +%Y)/`), so the controller checks the paths
//! of each run again, as rendered, with [`check_rendered_paths`].

use kube::ResourceExt;

use super::{Rule, Violation, Violations, repository::short};
use crate::paths;
use crate::policy::GitExportPolicy;

/// One file a run writes: its path as rendered at the run's instant, and the spec field it
/// comes from (`spec.files[0].path`, `spec.resourceReferences[2].output.path`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderedPath<'a> {
    pub field: &'a str,
    pub path: &'a str,
}

/// Checks the paths a run writes, as rendered at its instant, against path safety and the
/// `paths.allowedPrefixes` of every policy in `policies` (those that select the object's
/// namespace: see `rules::matching`). The controller calls it after rendering, before
/// anything is committed; every path is a file path (a `fields` export passes each key's).
pub fn check_rendered_paths<'a>(
    policies: &[&GitExportPolicy],
    paths: impl IntoIterator<Item = RenderedPath<'a>>,
) -> Result<(), Violations> {
    let mut out = Violations::default();
    for RenderedPath { field, path } in paths {
        check(field, path, false, policies, &mut out);
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks one path: safe, and within the prefixes of every policy. `is_folder` marks the
/// folder a `fields` export writes its keys into, which may be an allowed folder itself.
pub(super) fn check(
    field: &str,
    path: &str,
    is_folder: bool,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
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
                .any(|prefix| within(prefix, path, is_folder))
        {
            continue;
        }
        let name = policy.name_any();
        out.push(Violation::new(
            field,
            Rule::PathPrefix,
            format!(
                "path {:?} is outside the folders GitExportPolicy {name:?} allows",
                short(path)
            ),
            format!(
                "write a path inside one of the folders {prefixes:?}, or ask a cluster admin to add a folder to `spec.paths.allowedPrefixes` of GitExportPolicy {name:?}"
            ),
        ));
    }
}

/// Whether `path` lies inside the folder `prefix` (written with or without a trailing `/`),
/// or is that folder when `is_folder`. A prefix that is not a safe relative folder admits
/// nothing: the webhook refuses such policies, and a broken allow-list must not allow all.
pub(super) fn within(prefix: &str, path: &str, is_folder: bool) -> bool {
    let folder = prefix.trim_end_matches('/');
    if paths::check_path(folder).is_err() {
        return false;
    }
    match path.strip_prefix(folder) {
        Some("") => is_folder,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_folders() {
        for prefix in ["clusters", "clusters/", "clusters//"] {
            assert!(within(prefix, "clusters/app.yaml", false), "{prefix}");
            assert!(within(prefix, "clusters/a/b.yaml", false), "{prefix}");
            assert!(!within(prefix, "clusters-evil/app.yaml", false), "{prefix}");
            assert!(!within(prefix, "clustersx", false), "{prefix}");
            assert!(!within(prefix, "clusters", false), "{prefix}");
            assert!(within(prefix, "clusters", true), "{prefix}");
            assert!(
                !within(prefix, "other/clusters/app.yaml", false),
                "{prefix}"
            );
        }
        assert!(within("a/b", "a/b/c", false));
        assert!(!within("a/b", "a/bc/d", false));
    }

    #[test]
    fn unsafe_prefixes_admit_nothing() {
        for prefix in ["", "/", "../x", ".git", "a//b"] {
            assert!(!within(prefix, "a/b", false), "{prefix:?}");
            assert!(!within(prefix, "x/a", true), "{prefix:?}");
        }
    }
}
