//! Globs of the policies: `*` and `?` stay within one `/`-separated segment, `**` crosses
//! segments, so `https://github.com/company/*` does not reach into `company/x/y`.
//!
//! Matching never backtracks: globset compiles a glob to a regular expression that the
//! `regex` crate runs in time linear in the text (its automata have no backtracking), so
//! `*a*a*a*a*a*a*b` against a long URL costs what `*b` costs. What a glob can still cost is
//! its compilation, which grows with its length; hence [`MAX_GLOB_BYTES`], and the caps on
//! how many globs a policy holds, which the policy check and the CRD schema both enforce.

use globset::{GlobBuilder, GlobMatcher};

pub use crate::policy::{MAX_BRANCH_GLOBS, MAX_GLOB_BYTES, MAX_REPOSITORY_RULES};

/// Why a pattern is not a usable glob.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    #[error("it is {len} bytes, longer than the {MAX_GLOB_BYTES} a glob may be")]
    TooLong { len: usize },
    #[error("{0}")]
    Syntax(#[from] globset::Error),
}

/// Compiles `pattern`, or explains why it is not a glob.
pub fn compile(pattern: &str) -> Result<GlobMatcher, GlobError> {
    if pattern.len() > MAX_GLOB_BYTES {
        return Err(GlobError::TooLong { len: pattern.len() });
    }
    let glob = GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()?;
    Ok(glob.compile_matcher())
}

/// Whether `text` matches `pattern`; an invalid or over-long pattern matches nothing (the
/// webhook refuses such policies, so this only happens with a policy created while it was
/// down, and an allow-list that matches nothing refuses rather than allows).
pub fn matches(pattern: &str, text: &str) -> bool {
    compile(pattern).is_ok_and(|glob| glob.is_match(text))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn star_and_question_mark_stay_within_a_segment() {
        assert!(matches(
            "https://github.com/company/*",
            "https://github.com/company/repo"
        ));
        assert!(!matches(
            "https://github.com/company/*",
            "https://github.com/company/a/b"
        ));
        assert!(matches(
            "https://github.com/company/**",
            "https://github.com/company/a/b"
        ));
        assert!(matches("backups/?", "backups/a"));
        assert!(!matches("backups/?", "backups/ab"));
        assert!(!matches("backups/?", "backups//"));
        assert!(matches("main", "main"));
        assert!(!matches("main", "main2"));
        assert!(!matches("main", "xmain"));
    }

    #[test]
    fn classes_alternatives_and_escapes() {
        assert!(matches("release-[0-9]", "release-7"));
        assert!(!matches("release-[0-9]", "release-x"));
        assert!(matches("{main,develop}", "develop"));
        assert!(!matches("{main,develop}", "feature"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
    }

    #[test]
    fn invalid_and_over_long_globs_match_nothing() {
        assert!(!matches("https://x/[", "https://x/["));
        let long = "*".repeat(MAX_GLOB_BYTES + 1);
        assert!(matches!(compile(&long), Err(GlobError::TooLong { .. })));
        assert!(!matches(&long, "anything"));
        assert!(compile(&"a".repeat(MAX_GLOB_BYTES)).is_ok());
    }

    #[test]
    fn many_stars_do_not_backtrack() {
        let text = "a".repeat(4096);
        for pattern in ["*a*a*a*a*a*a*b", "**a**a**a**a**a**a**b"] {
            let start = Instant::now();
            assert!(!matches(pattern, &text));
            // Generous on purpose: it separates automata from backtracking (seconds), and must not
            // flake on a loaded machine.
            assert!(start.elapsed() < Duration::from_secs(1), "{pattern}");
        }
    }

    /// Patterns up to the cap, built from the pieces that make backtracking matchers blow up.
    fn hostile_pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("*"),
                Just("**"),
                Just("?"),
                Just("a"),
                Just("/"),
                Just("[a-z]"),
                Just("{a,b}")
            ],
            1..128,
        )
        .prop_map(|pieces| {
            let mut pattern = String::new();
            for piece in pieces {
                if pattern.len() + piece.len() >= MAX_GLOB_BYTES {
                    break;
                }
                pattern.push_str(piece);
            }
            pattern.push('b');
            pattern
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_match_finishes_quickly(
            pattern in hostile_pattern(),
            text in prop_oneof!["a{4096}", "(a/){2048}", "[ab/]{4096}"],
        ) {
            let start = Instant::now();
            let _ = matches(&pattern, &text);
            let took = start.elapsed();
            // Generous on purpose, as above: backtracking takes seconds to days here.
            prop_assert!(took < Duration::from_secs(1), "{pattern:?} took {took:?}");
        }
    }
}
