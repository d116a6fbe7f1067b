//! What a refusal says: the field, the rule, and the fix.

use std::fmt;

/// The rules an export can break. The code (`Rule::code`) is stable: docs/policy.md and
/// alerting on webhook logs use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Secrets are never exported whole (`dump`) or key by key (`fields`).
    SecretStrategy,
    /// `single-field` from a Secret only for allow-listed keys.
    SecretField,
    /// Paths are relative, normalised and safe (docs/architecture.md, Safe paths).
    PathSafety,
    /// A policy's `paths.allowedPrefixes`.
    PathPrefix,
    /// Only `$(date)` and `$(date +FORMAT)` exist; nothing is run by a shell.
    Placeholder,
    /// Repository URLs carry no credentials.
    RepositoryCredentials,
    /// `https` and `ssh`; `http`, `git`, `file` only where a policy allows them.
    RepositoryScheme,
    /// The URL cannot be read as a Git remote.
    RepositoryUrl,
    /// A policy's `repositories` allow-list.
    RepositoryAllowed,
    /// A policy's `repositories[].branches` allow-list.
    BranchAllowed,
    /// Branch names Git accepts (`git check-ref-format`), and not `HEAD`.
    BranchName,
    /// A PullRequest's head branch is a branch of its own, not its base branch.
    HeadBranch,
    /// A commit message carries no line that reads as the operator's own `Gco-Object:` or
    /// `Gco-Run:` trailer, by which it recognises the commits of its runs.
    ReservedTrailer,
    /// A policy's `deniedKinds`.
    DeniedKind,
    /// A policy's `crossNamespaceReferences: false`.
    CrossNamespace,
    /// A policy's `limits.maxFiles`, or the built-in ceiling.
    MaxFiles,
    /// A policy's `limits.maxFileBytes`, or the built-in ceiling, on the rendered content.
    MaxFileBytes,
    /// A PullRequest on a host whose forge cannot be inferred needs `provider`.
    ForgeProvider,
    /// A PullRequest's `apiURL` receives the forge token: https (http only where a policy
    /// allows it), no userinfo, query or fragment, on the repository's host unless a policy
    /// lists it in `allowedAPIURLs`.
    ApiUrl,
    /// A GitExportPolicy that cannot be applied as written (bad glob, unknown operator).
    InvalidPolicy,
    /// `ttlSecondsAfterFinished` is for one-shot exports: a scheduled export never finishes.
    TtlWithSchedule,
    /// `ttlSecondsAfterFinished` with `prune`: the expiry would delete the exported files.
    TtlWithPrune,
    /// A file encrypted to a recipient no policy allows, or appended to while encrypted.
    Encryption,
    /// A reference's `selector` or `namespaceSelector` must be a valid label selector, and a
    /// reference gives exactly one of `name` and `selector`.
    Selector,
    /// A policy's `repositories[].requireSignedCommits`: commits to the repository and branch
    /// are signed, so the spec names `spec.commit.signingKey`.
    SignedCommits,
}

impl Rule {
    /// The stable, kebab-case name of the rule.
    pub fn code(self) -> &'static str {
        match self {
            Rule::SecretStrategy => "secret-strategy",
            Rule::SecretField => "secret-field",
            Rule::PathSafety => "path-safety",
            Rule::PathPrefix => "path-prefix",
            Rule::Placeholder => "placeholder",
            Rule::RepositoryCredentials => "repository-credentials",
            Rule::RepositoryScheme => "repository-scheme",
            Rule::RepositoryUrl => "repository-url",
            Rule::RepositoryAllowed => "repository-allowed",
            Rule::BranchAllowed => "branch-allowed",
            Rule::BranchName => "branch-name",
            Rule::HeadBranch => "head-branch",
            Rule::ReservedTrailer => "reserved-trailer",
            Rule::DeniedKind => "denied-kind",
            Rule::CrossNamespace => "cross-namespace",
            Rule::MaxFiles => "max-files",
            Rule::MaxFileBytes => "max-file-bytes",
            Rule::ForgeProvider => "forge-provider",
            Rule::ApiUrl => "api-url",
            Rule::InvalidPolicy => "invalid-policy",
            Rule::TtlWithSchedule => "ttl-with-schedule",
            Rule::TtlWithPrune => "ttl-with-prune",
            Rule::Encryption => "encryption",
            Rule::Selector => "selector",
            Rule::SignedCommits => "signed-commits",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One broken rule, at one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field, as `kubectl explain` spells it: `spec.resourceReferences[2].output.path`.
    pub field: String,
    /// The rule that refused it.
    pub rule: Rule,
    /// What is wrong.
    pub message: String,
    /// How to fix it: what to write instead, or which policy field would allow it.
    pub fix: String,
}

impl Violation {
    pub(crate) fn new(
        field: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (rule {}); fix: {}",
            self.field, self.message, self.rule, self.fix
        )
    }
}

/// At most this many violations are spelled out in a message: a hostile spec with thousands of
/// bad paths must not produce a response the apiserver refuses to relay.
const MAX_SHOWN: usize = 20;

/// Every rule an export breaks, reported together so one `kubectl apply` shows them all.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// Whether nothing was broken.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations, in the order of the fields in the spec.
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    pub(crate) fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} policy violation{plural}:")?;
        for violation in self.0.iter().take(MAX_SHOWN) {
            write!(f, "\n- {violation}")?;
        }
        if count > MAX_SHOWN {
            write!(f, "\n- … and {} more", count - MAX_SHOWN)?;
        }
        Ok(())
    }
}
