//! What a command is about: `gitcommit/NAME` or `pullrequest/NAME`, spelled as kubectl users
//! spell kinds (singular, plural, short name, any case). Pure.

use std::{fmt, str::FromStr};

use gco_api::ExportKind;

/// A kind argument: every spelling kubectl accepts for the two kinds, plus `gc` and `pr`.
pub fn parse_kind(text: &str) -> Option<ExportKind> {
    match text.to_ascii_lowercase().as_str() {
        "gitcommit"
        | "gitcommits"
        | "gc"
        | "gitcommit.gco.galos.one"
        | "gitcommits.gco.galos.one" => Some(ExportKind::GitCommit),
        "pullrequest"
        | "pullrequests"
        | "pr"
        | "pullrequest.gco.galos.one"
        | "pullrequests.gco.galos.one" => Some(ExportKind::PullRequest),
        _ => None,
    }
}

/// The lower-case name `kubectl` prints for a kind (`gitcommit/NAME`).
pub fn kind_word(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::GitCommit => "gitcommit",
        ExportKind::PullRequest => "pullrequest",
    }
}

/// A kind for clap (`get gitcommits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindArg(pub ExportKind);

impl FromStr for KindArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_kind(text).map(KindArg).ok_or_else(|| {
            format!("unknown kind {text:?}: use gitcommits (gc) or pullrequests (pr)")
        })
    }
}

/// `KIND/NAME`: one GitCommit or PullRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: ExportKind,
    pub name: String,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "{text:?} is not KIND/NAME: write gitcommit/NAME or pullrequest/NAME (or gc/NAME, pr/NAME)"
            )
        };
        let (kind, name) = text.split_once('/').ok_or_else(usage)?;
        let kind = parse_kind(kind).ok_or_else(usage)?;
        if name.is_empty() || name.contains('/') {
            return Err(usage());
        }
        Ok(Target {
            kind,
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", kind_word(self.kind), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kubectl_spelling_names_a_kind() {
        for text in ["gitcommit", "GitCommits", "gc", "gitcommits.gco.galos.one"] {
            assert_eq!(parse_kind(text), Some(ExportKind::GitCommit), "{text}");
        }
        for text in ["pullrequest", "PullRequests", "pr"] {
            assert_eq!(parse_kind(text), Some(ExportKind::PullRequest), "{text}");
        }
        assert_eq!(parse_kind("configmap"), None);
    }

    #[test]
    fn targets_parse_and_print_as_kubectl_does() {
        let target: Target = "GitCommit/app".parse().expect("target");
        assert_eq!(target.kind, ExportKind::GitCommit);
        assert_eq!(target.to_string(), "gitcommit/app");
        assert_eq!(
            "pr/x".parse::<Target>().map(|t| t.to_string()),
            Ok("pullrequest/x".into())
        );
        for bad in ["app", "gitcommit/", "secret/x", "gc/a/b"] {
            let error = bad.parse::<Target>().expect_err(bad);
            assert!(error.contains("KIND/NAME"), "{error}");
        }
    }
}
