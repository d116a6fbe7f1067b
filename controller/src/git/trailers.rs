//! Reading the trailer block of a commit message: the only part of a message the engine
//! trusts to say which object and run a commit was made for.
//!
//! The rule follows git's own idea of trailers, made strict: the trailer block is the last
//! paragraph of the message, only when the message has another paragraph before it (the
//! first is the subject), and only when every one of its lines is `Key: value`. Git is more
//! lenient (continuation lines, a `---` divider, blocks that are only a quarter trailers);
//! the engine writes its own block in exactly this shape, so anything looser would only add
//! ways for text a user wrote higher up in a message to be mistaken for it.

use super::change::{OBJECT_TRAILER, RUN_TRAILER};

/// The `(key, value)` pairs of `message`'s trailer block, in order; empty when it has none.
fn trailer_block(message: &str) -> Vec<(&str, &str)> {
    let lines: Vec<&str> = message.lines().map(str::trim_end).collect();
    // Trailing blank lines are not a paragraph of their own.
    let end = lines
        .iter()
        .rposition(|line| !line.is_empty())
        .map_or(0, |last| last + 1);
    let Some(start) = lines[..end].iter().rposition(|line| line.is_empty()) else {
        // One paragraph (or none): a subject is never a trailer block.
        return Vec::new();
    };
    let block: Option<Vec<(&str, &str)>> = lines[start + 1..end]
        .iter()
        .map(|line| trailer(line))
        .collect();
    block.unwrap_or_default()
}

/// Every `(object, run)` that `message`'s trailer block vouches for: each `Gco-Object` line
/// followed right away by a `Gco-Run` line. Pairs, not any object and any run in the block:
/// a commit coalescing several objects' runs carries one pair per change, and another
/// object's pair must not vouch for this one.
pub(crate) fn run_pairs(message: &str) -> Vec<(&str, &str)> {
    trailer_block(message)
        .windows(2)
        .filter_map(|w| match w {
            [(OBJECT_TRAILER, object), (RUN_TRAILER, run)] => Some((*object, *run)),
            _ => None,
        })
        .collect()
}

/// Every `(object, run)` pair of `message`'s trailer block, in order: what `kubectl gco
/// trace` reports. One pair per run a commit carries (several for a coalesced commit), read
/// with the same strict rule as [`carries_run`].
pub fn object_runs(message: &str) -> Vec<(String, String)> {
    trailer_block(message)
        .windows(2)
        .filter(|w| w[0].0 == OBJECT_TRAILER && w[1].0 == RUN_TRAILER)
        .map(|w| (w[0].1.to_owned(), w[1].1.to_owned()))
        .collect()
}

/// `Key: value` split in two, if `line` has that shape: a key of letters, digits and `-`
/// (what git accepts as a trailer token) at the very start of the line, then `:`.
fn trailer(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let token = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    token.then(|| (key, value.trim()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::git::change::{ObjectRef, RunId};

    /// Whether `message`'s trailer block vouches for `object`'s run `run`.
    pub(crate) fn carries_run(message: &str, object: &ObjectRef, run: &RunId) -> bool {
        let object = object.to_string();
        run_pairs(message).contains(&(object.as_str(), run.as_str()))
    }

    /// GitCommit `name` in namespace `ns`.
    pub(crate) fn object(name: &str) -> ObjectRef {
        ObjectRef {
            namespace: "ns".into(),
            kind: "GitCommit".into(),
            name: name.into(),
        }
    }

    pub(crate) fn run(id: &str) -> RunId {
        RunId::new(id).expect("valid run id")
    }

    #[test]
    fn the_genuine_trailer_block_counts() {
        let message = "Update a\n\nGco-Object: ns/GitCommit/a\nGco-Run: run-1\n";
        assert!(carries_run(message, &object("a"), &run("run-1")));
        assert!(!carries_run(message, &object("a"), &run("run-2")));
    }

    #[test]
    fn a_coalesced_commit_counts_for_each_of_its_pairs() {
        let message = "Update 2 objects from git-change-operator\n\nUpdate a\nUpdate b\n\n\
            Gco-Object: ns/GitCommit/a\nGco-Run: run-a\n\
            Gco-Object: ns/GitCommit/b\nGco-Run: run-b\n";
        assert!(carries_run(message, &object("a"), &run("run-a")));
        assert!(carries_run(message, &object("b"), &run("run-b")));
        // Crossed pairs are not a match.
        assert!(!carries_run(message, &object("a"), &run("run-b")));
        assert!(!carries_run(message, &object("b"), &run("run-a")));
    }

    #[test]
    fn a_run_line_in_an_earlier_paragraph_does_not_count() {
        // What a user could write into their own commit message: the engine's block follows.
        let message = "Update a\n\nGco-Object: ns/GitCommit/b\nGco-Run: run-b\n\n\
            Gco-Object: ns/GitCommit/a\nGco-Run: run-a\n";
        assert!(!carries_run(message, &object("b"), &run("run-b")));
        assert!(carries_run(message, &object("a"), &run("run-a")));
        // Inside prose, too.
        let prose =
            "Update a\n\nplease treat this as\nGco-Run: run-b\ndone\n\nSigned-off-by: x <x@y>\n";
        assert!(!carries_run(prose, &object("b"), &run("run-b")));
    }

    #[test]
    fn the_run_of_another_object_does_not_count() {
        let message = "Update b\n\nGco-Object: ns/GitCommit/b\nGco-Run: run-1\n";
        assert!(!carries_run(message, &object("a"), &run("run-1")));
        // Nor a run without its own object line, after another object's pair.
        let message = "Update\n\nGco-Object: ns/GitCommit/a\nGco-Run: run-0\nGco-Run: run-1\n";
        assert!(!carries_run(message, &object("a"), &run("run-1")));
        // Nor a pair split by another trailer: the engine writes its pairs adjacent.
        let message =
            "Update\n\nGco-Object: ns/GitCommit/a\nSigned-off-by: x <x@y>\nGco-Run: run-1\n";
        assert!(!carries_run(message, &object("a"), &run("run-1")));
        // Nor one with no object at all.
        assert!(!carries_run(
            "Update\n\nGco-Run: run-1\n",
            &object("a"),
            &run("run-1")
        ));
    }

    #[test]
    fn object_runs_lists_each_pair_of_the_block() {
        let message = "Update 2 objects from git-change-operator\n\nUpdate a\nUpdate b\n\n\
            Gco-Object: ns/GitCommit/a\nGco-Run: run-a\n\
            Gco-Object: ns/PullRequest/b\nGco-Run: run-b\n";
        assert_eq!(
            object_runs(message),
            vec![
                ("ns/GitCommit/a".to_owned(), "run-a".to_owned()),
                ("ns/PullRequest/b".to_owned(), "run-b".to_owned())
            ]
        );
        assert!(object_runs("Update a\n\nGco-Object: ns/GitCommit/a\nthanks\n").is_empty());
    }

    #[test]
    fn a_final_paragraph_that_is_not_all_trailers_is_no_block() {
        let message = "Update a\n\nGco-Object: ns/GitCommit/a\nGco-Run: run-1\nthanks!\n";
        assert!(trailer_block(message).is_empty());
        assert!(!carries_run(message, &object("a"), &run("run-1")));
        let indented = "Update a\n\n Gco-Object: ns/GitCommit/a\n Gco-Run: run-1\n";
        assert!(!carries_run(indented, &object("a"), &run("run-1")));
    }

    #[test]
    fn a_subject_alone_is_never_a_block() {
        let message = "Gco-Object: ns/GitCommit/a\nGco-Run: run-1\n";
        assert!(trailer_block(message).is_empty());
        assert!(!carries_run(message, &object("a"), &run("run-1")));
        assert!(trailer_block("").is_empty());
        assert!(trailer_block("\n\n\n").is_empty());
    }

    #[test]
    fn trailing_blank_lines_and_carriage_returns_are_tolerated() {
        let message = "Update a\r\n\r\nGco-Object: ns/GitCommit/a\r\nGco-Run: run-1\r\n\r\n\n";
        assert_eq!(
            trailer_block(message),
            vec![("Gco-Object", "ns/GitCommit/a"), ("Gco-Run", "run-1")]
        );
        assert!(carries_run(message, &object("a"), &run("run-1")));
    }
}
