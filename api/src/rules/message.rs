//! The commit message may not carry the operator's own trailers.
//!
//! The controller ends each commit with `Gco-Object: <object>` and `Gco-Run: <run>` lines
//! and, after a crash between push and status write, finds a run's commit by its `Gco-Run`
//! line (docs/architecture.md, Exactly once). A user's message holding such a line could make
//! the controller take that commit for one of its runs and skip a run, so any line that reads
//! as one of these trailers is refused.

use std::borrow::Cow;

use jiff::Timestamp;

use super::{ExportKind, ExportRequest, Rule, Violation, Violations};
use crate::placeholders;

/// The trailers the controller writes under every commit message, and reads back.
pub const RESERVED_TRAILERS: [&str; 2] = ["Gco-Object", "Gco-Run"];

/// The reserved trailer a line of `text` reads as: a line that starts (after blanks) with
/// `Gco-Object` or `Gco-Run` in any case, then optional blanks and `:`. Lines end at `\n` or
/// `\r`, as any reader of the message may split them.
pub fn reserved_trailer(text: &str) -> Option<&'static str> {
    text.split(['\n', '\r']).find_map(|line| {
        let line = line.trim_start();
        RESERVED_TRAILERS.into_iter().find(|trailer| {
            line.get(..trailer.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(trailer))
                && line[trailer.len()..].trim_start().starts_with(':')
        })
    })
}

/// Checks the message the commits will carry: `spec.commit.message`, or for a PullRequest
/// without one, `Changes for PR: <title>`.
pub(super) fn check(request: &ExportRequest<'_>, out: &mut Violations) {
    let (field, message) = match request.commit.and_then(|c| c.message.as_deref()) {
        Some(message) => ("spec.commit.message", Cow::Borrowed(message)),
        None => match (request.kind, request.pull_request) {
            (ExportKind::PullRequest, Some(pr)) => (
                "spec.pullRequest.title",
                Cow::Owned(format!("Changes for PR: {}", pr.title)),
            ),
            _ => return,
        },
    };
    // As written and as rendered: a FORMAT is literal text (`$(date +%nGco-Run:)` starts a
    // line with it), while no date directive spells a letter of a trailer, so any instant
    // renders the same lines here.
    let rendered = placeholders::render(&message, Timestamp::UNIX_EPOCH).ok();
    let found =
        reserved_trailer(&message).or_else(|| rendered.as_deref().and_then(reserved_trailer));
    if let Some(trailer) = found {
        out.push(Violation::new(
            field,
            Rule::ReservedTrailer,
            format!(
                "the commit message has a line starting with `{trailer}:`, the trailer by which the operator recognises its own commits"
            ),
            format!(
                "remove or reword that line; the operator adds its own {} trailers to every commit",
                RESERVED_TRAILERS.map(|t| format!("`{t}`")).join(" and ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_lines_are_found_in_any_case_and_spacing() {
        for text in [
            "Gco-Run: abc",
            "Sync\n\nGco-Object: ns/GitCommit/x",
            "x\ngco-run:1",
            "x\r\n  GCO-RUN : 1",
            "x\rGco-Object:",
            "x\n\tgco-object\t: y",
        ] {
            assert!(reserved_trailer(text).is_some(), "{text:?}");
        }
        for text in [
            "Sync - $(date)",
            "mentions Gco-Run: mid-line",
            "Gco-Runner: x",
            "Gco-Run x",
            "Gco-Objects: y",
            "Gco-",
            "",
            "é\nGco-R",
        ] {
            assert_eq!(reserved_trailer(text), None, "{text:?}");
        }
    }
}
