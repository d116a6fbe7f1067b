//! Policy evaluation: the built-in rules and every matching `GitExportPolicy`, as one pure
//! function that the admission webhook runs at admission time and the controller runs again
//! at reconcile time (the webhook may have been down when the object was made).
//!
//! ```text
//! ExportRequest (GitCommit or PullRequest view) + matching policies
//!     ── evaluate ──▶ Ok(Requirements: the access checks to run) | Err(Violations)
//!     ── defaults ──▶ Defaults (what the mutating webhook fills in)
//! ```
//! Every [`Violation`] names the field (`spec.resourceReferences[2].output.path`), the rule,
//! and the fix; all violations of an object are reported together.

mod api_url;
mod content;
mod defaults;
mod encryption;
mod glob;
mod head_branch;
mod lifetime;
mod limits;
mod message;
mod policy_check;
mod policy_set;
mod prefix;
mod references;
mod repository;
mod request;
mod selector;
mod signing;
mod violation;

pub use crate::kind::{ExportKind, split_api_version};
pub use content::{normalise_path, written_path};
pub use defaults::{DEFAULT_AUTHOR, DEFAULT_COMMIT_MESSAGE, Defaults, defaults};
pub use encryption::allowed_age_recipients;
pub use glob::{MAX_BRANCH_GLOBS, MAX_GLOB_BYTES, MAX_REPOSITORY_RULES};
pub use head_branch::head_branch;
pub use limits::{BUILTIN_MAX_FILE_BYTES, BUILTIN_MAX_FILES, check_rendered_count, max_files};
pub use message::{RESERVED_TRAILERS, reserved_trailer};
pub use policy_check::validate_policy;
pub use policy_set::{BrokenPolicy, PolicySet};
pub use prefix::{RenderedPath, check_rendered_paths};
pub use references::{AccessCheck, BUILTIN_SECRET_FIELDS, age_recipients};
pub use repository::infer_provider;
pub use request::ExportRequest;
pub use selector::{matching, selects};
pub use violation::{Rule, Violation, Violations};

use crate::policy::GitExportPolicy;

/// What an admitted export still needs: the `get` checks the requesting user must pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Whether the requester-access check applies: with no policy, or when any matching
    /// policy keeps `requireRequesterAccess: true` (the default).
    pub require_requester_access: bool,
    /// One `get` per referenced object; empty when the check does not apply.
    pub access_checks: Vec<AccessCheck>,
}

/// Evaluates `request` against the built-in rules and every policy in `policies` (those
/// whose selector matches the request's namespace: see [`matching`]).
pub fn evaluate(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
) -> Result<Requirements, Violations> {
    let mut violations = Violations::default();
    repository::check(request, policies, &mut violations);
    head_branch::check(request, policies, &mut violations);
    message::check(request, &mut violations);
    signing::check(request, policies, &mut violations);
    lifetime::check(request, &mut violations);
    content::check(request, policies, &mut violations);
    encryption::check(request, policies, &mut violations);
    limits::check(request, policies, &mut violations);
    let checks = references::check(request, policies, &mut violations);
    if !violations.is_empty() {
        return Err(violations);
    }
    let require_requester_access =
        policies.is_empty() || policies.iter().any(|p| p.spec.require_requester_access);
    Ok(Requirements {
        require_requester_access,
        access_checks: if require_requester_access {
            checks
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_access;
#[cfg(test)]
mod tests_head_branch;
#[cfg(test)]
mod tests_signing;
#[cfg(test)]
mod tests_written;
