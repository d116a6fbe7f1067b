//! Checks of a GitExportPolicy itself, so an admin's typo is refused at `kubectl apply`
//! instead of silently matching nothing.

use super::glob::{self, MAX_BRANCH_GLOBS, MAX_REPOSITORY_RULES};
use super::{Rule, Violation, Violations, repository::branch_name_problem, repository::short};
use crate::paths;
use crate::policy::GitExportPolicySpec;

/// The shape of an age X25519 recipient: `age1` and 58 characters of Bech32's alphabet (the
/// controller parses it fully before it encrypts to it).
fn is_age_recipient(text: &str) -> bool {
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    text.len() == 62 && text.starts_with("age1") && text[4..].chars().all(|c| BECH32.contains(c))
}

/// Refuses globs that do not compile or are too long, more globs than matching may cost,
/// selector operators Kubernetes does not know, and unsafe path prefixes.
pub fn validate_policy(spec: &GitExportPolicySpec) -> Result<(), Violations> {
    let mut out = Violations::default();
    check_globs(spec, &mut out);
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
    let recipients = spec
        .secrets
        .iter()
        .flat_map(|s| s.encryption.iter())
        .flat_map(|e| e.age_recipients.iter());
    for (index, recipient) in recipients.enumerate() {
        if !is_age_recipient(recipient) {
            out.push(Violation::new(
                format!("spec.secrets.encryption.ageRecipients[{index}]"),
                Rule::InvalidPolicy,
                format!("{:?} is not an age X25519 recipient", short(recipient)),
                "write the public key `age-keygen` prints, `age1` and 58 more characters",
            ));
        }
    }
    let file_recipients = spec.encryption.iter().flat_map(|e| e.age_recipients.iter());
    for (index, recipient) in file_recipients.enumerate() {
        let recipient = recipient.trim();
        let ssh = recipient
            .strip_prefix("ssh-ed25519 ")
            .is_some_and(|key| key.starts_with("AAAA") && !key.contains(char::is_whitespace));
        if !is_age_recipient(recipient) && !ssh {
            out.push(Violation::new(
                format!("spec.encryption.ageRecipients[{index}]"),
                Rule::InvalidPolicy,
                format!("{:?} is not an age recipient", short(recipient)),
                "write an X25519 recipient (`age1…`, as `age-keygen` prints it) or an SSH public key `ssh-ed25519 AAAA…` (without its comment)",
            ));
        }
    }
    if let Some(prefixes) = spec.paths.as_ref().map(|p| &p.allowed_prefixes) {
        for (index, prefix) in prefixes.iter().enumerate() {
            if paths::check_path(prefix.trim_end_matches('/')).is_err() {
                out.push(Violation::new(
                    format!("spec.paths.allowedPrefixes[{index}]"),
                    Rule::InvalidPolicy,
                    format!("{:?} is not a safe relative folder", short(prefix)),
                    "write a relative folder such as `clusters` or `clusters/production/`",
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
            format!("{:?} is not a valid branch name: {reason}", short(branch)),
            "write a branch name such as `main`",
        ));
    }
    if let Some(prefix) = spec
        .defaults
        .as_ref()
        .and_then(|d| d.branch_prefix.as_deref())
        && let Some(reason) = branch_name_problem(&format!("{prefix}/namespace-name"))
    {
        out.push(Violation::new(
            "spec.defaults.branchPrefix",
            Rule::InvalidPolicy,
            format!(
                "{:?} does not make valid head branch names `<branchPrefix>/<namespace>-<name>`: {reason}",
                short(prefix)
            ),
            "write a prefix such as `gco` or `bots/exports`",
        ));
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Every glob compiles, is at most `MAX_GLOB_BYTES` long, and there are at most
/// `MAX_REPOSITORY_RULES` rules of at most `MAX_BRANCH_GLOBS` branches: each admission
/// compiles and matches them (rules/glob.rs).
fn check_globs(spec: &GitExportPolicySpec, out: &mut Violations) {
    if spec.repositories.len() > MAX_REPOSITORY_RULES {
        out.push(Violation::new(
            "spec.repositories",
            Rule::InvalidPolicy,
            format!(
                "{} repository rules are more than the {MAX_REPOSITORY_RULES} one policy may hold",
                spec.repositories.len()
            ),
            "merge rules with globs such as `https://github.com/company/*`, or split them over several policies",
        ));
    }
    for (index, rule) in spec.repositories.iter().enumerate() {
        if let Err(error) = glob::compile(&rule.url) {
            out.push(Violation::new(
                format!("spec.repositories[{index}].url"),
                Rule::InvalidPolicy,
                format!("{:?} is not a valid glob: {error}", short(&rule.url)),
                "write a glob such as `https://github.com/company/*`",
            ));
        }
        if rule.branches.len() > MAX_BRANCH_GLOBS {
            out.push(Violation::new(
                format!("spec.repositories[{index}].branches"),
                Rule::InvalidPolicy,
                format!(
                    "{} branch globs are more than the {MAX_BRANCH_GLOBS} one rule may hold",
                    rule.branches.len()
                ),
                "merge branches with globs such as `backups/*` or `{main,develop}`",
            ));
        }
        for (b, branch) in rule.branches.iter().enumerate() {
            if let Err(error) = glob::compile(branch) {
                out.push(Violation::new(
                    format!("spec.repositories[{index}].branches[{b}]"),
                    Rule::InvalidPolicy,
                    format!("{:?} is not a valid glob: {error}", short(branch)),
                    "write a glob such as `main` or `backups/*`",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PathRules, PolicyDefaults, RepositoryRule};

    fn rule(url: &str, branches: &[&str]) -> RepositoryRule {
        RepositoryRule {
            url: url.into(),
            branches: branches.iter().map(|b| (*b).to_owned()).collect(),
            ..RepositoryRule::default()
        }
    }

    fn fields(spec: &GitExportPolicySpec) -> Vec<String> {
        validate_policy(spec)
            .err()
            .map(|v| v.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn globs_are_capped_in_length_and_number() {
        let long = format!("https://github.com/{}", "*a".repeat(200));
        let spec = GitExportPolicySpec {
            repositories: vec![rule(&long, &["main", &"x".repeat(300)])],
            ..Default::default()
        };
        assert_eq!(
            fields(&spec),
            [
                "spec.repositories[0].url",
                "spec.repositories[0].branches[1]"
            ]
        );
        let branches: Vec<String> = (0..=MAX_BRANCH_GLOBS).map(|i| format!("b{i}")).collect();
        let branches: Vec<&str> = branches.iter().map(String::as_str).collect();
        let spec = GitExportPolicySpec {
            repositories: vec![rule("https://x/*", &branches)],
            ..Default::default()
        };
        assert_eq!(fields(&spec), ["spec.repositories[0].branches"]);
        let spec = GitExportPolicySpec {
            repositories: vec![rule("https://x/*", &[]); MAX_REPOSITORY_RULES + 1],
            ..Default::default()
        };
        assert_eq!(fields(&spec), ["spec.repositories"]);
        let spec = GitExportPolicySpec {
            repositories: vec![rule("https://x/*", &["main"]); MAX_REPOSITORY_RULES],
            ..Default::default()
        };
        assert_eq!(fields(&spec), Vec::<String>::new());
    }

    #[test]
    fn prefixes_and_default_branch_prefixes_are_checked() {
        let spec = GitExportPolicySpec {
            paths: Some(PathRules {
                allowed_prefixes: vec![
                    "clusters".into(),
                    "clusters/".into(),
                    "/abs".into(),
                    "".into(),
                ],
            }),
            defaults: Some(PolicyDefaults {
                branch_prefix: Some("a..b".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            fields(&spec),
            [
                "spec.paths.allowedPrefixes[2]",
                "spec.paths.allowedPrefixes[3]",
                "spec.defaults.branchPrefix"
            ]
        );
    }
}
