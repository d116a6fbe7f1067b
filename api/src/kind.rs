//! Which kinds are which: the two exporting kinds of this API, the split of an `apiVersion`,
//! and what counts as a Secret. One definition each, for the webhook and the controller.

/// An exporting kind of this API: GitCommit or PullRequest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExportKind {
    GitCommit,
    PullRequest,
}

impl ExportKind {
    /// The Kubernetes kind name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExportKind::GitCommit => "GitCommit",
            ExportKind::PullRequest => "PullRequest",
        }
    }

    /// The kind for a Kubernetes kind name, if it is one of ours that exports.
    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "GitCommit" => Some(ExportKind::GitCommit),
            "PullRequest" => Some(ExportKind::PullRequest),
            _ => None,
        }
    }

    /// The field that holds the branch the policy's `branches` globs apply to.
    pub const fn branch_field(self) -> &'static str {
        match self {
            ExportKind::GitCommit => "spec.repository.branch",
            ExportKind::PullRequest => "spec.repository.baseBranch",
        }
    }
}

impl std::fmt::Display for ExportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Whether `apiVersion`/`kind` name the core Secret. The kind is compared without regard to
/// case: the policy errs on the side of treating a near-miss spelling as a Secret.
pub fn is_secret(api_version: &str, kind: &str) -> bool {
    is_core_secret(split_api_version(api_version).0, kind)
}

/// As [`is_secret`], for a resolved API group (`""` for the core group).
pub fn is_core_secret(group: &str, kind: &str) -> bool {
    group.is_empty() && kind.eq_ignore_ascii_case("Secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_split_into_group_and_version() {
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }

    #[test]
    fn only_the_core_secret_is_a_secret() {
        assert!(is_secret("v1", "Secret"));
        assert!(is_secret("v1", "secret"));
        assert!(!is_secret("example.com/v1", "Secret"));
        assert!(!is_secret("v1", "ConfigMap"));
        assert!(is_core_secret("", "Secret"));
        assert!(!is_core_secret("apps", "Secret"));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [ExportKind::GitCommit, ExportKind::PullRequest] {
            assert_eq!(ExportKind::from_kind(kind.as_str()), Some(kind));
        }
        assert_eq!(ExportKind::from_kind("Secret"), None);
    }
}
