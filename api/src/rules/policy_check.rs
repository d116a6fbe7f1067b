//! Checks of a GitExportPolicy itself, so an admin's typo is refused at `kubectl apply`
//! instead of silently matching nothing.

use super::{Rule, Violation, Violations, glob, repository::branch_name_problem};
use crate::paths;
use crate::policy::GitExportPolicySpec;

/// Refuses globs that do not compile, selector operators Kubernetes does not know, and
/// unsafe path prefixes.
pub fn validate_policy(spec: &GitExportPolicySpec) -> Result<(), Violations> {
    let mut out = Violations::default();
    for (index, rule) in spec.repositories.iter().enumerate() {
        if let Err(error) = glob::compile(&rule.url) {
            out.push(Violation::new(
                format!("spec.repositories[{index}].url"),
                Rule::InvalidPolicy,
                format!("{:?} is not a valid glob: {error}", rule.url),
                "write a glob such as `https://github.com/company/*`",
            ));
        }
        for (b, branch) in rule.branches.iter().enumerate() {
            if let Err(error) = glob::compile(branch) {
                out.push(Violation::new(
                    format!("spec.repositories[{index}].branches[{b}]"),
                    Rule::InvalidPolicy,
                    format!("{branch:?} is not a valid glob: {error}"),
                    "write a glob such as `main` or `backups/*`",
                ));
            }
        }
    }
    if let Some(selector) = &spec.namespace_selector {
        for (index, expression) in selector.match_expressions.iter().flatten().enumerate() {
            if !matches!(
                expression.operator.as_str(),
                "In" | "NotIn" | "Exists" | "DoesNotExist"
            ) {
                out.push(Violation::new(
                    format!("spec.namespaceSelector.matchExpressions[{index}].operator"),
                    Rule::InvalidPolicy,
                    format!("unknown operator {:?}", expression.operator),
                    "use `In`, `NotIn`, `Exists` or `DoesNotExist`",
                ));
            }
        }
    }
    if let Some(prefixes) = spec.paths.as_ref().map(|p| &p.allowed_prefixes) {
        for (index, prefix) in prefixes.iter().enumerate() {
            if paths::check_path(prefix.trim_end_matches('/')).is_err() {
                out.push(Violation::new(
                    format!("spec.paths.allowedPrefixes[{index}]"),
                    Rule::InvalidPolicy,
                    format!("{prefix:?} is not a safe relative path prefix"),
                    "write a relative folder such as `clusters/`",
                ));
            }
        }
    }
    if let Some(branch) = spec.defaults.as_ref().and_then(|d| d.branch.as_deref())
        && let Some(reason) = branch_name_problem(branch)
    {
        out.push(Violation::new(
            "spec.defaults.branch",
            Rule::InvalidPolicy,
            format!("{branch:?} is not a valid branch name: {reason}"),
            "write a branch name such as `main`",
        ));
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}
