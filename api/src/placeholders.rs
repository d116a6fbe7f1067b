//! The placeholders (docs/architecture.md, Placeholders): `$(date)` and `$(date +FORMAT)`, always in UTC.
//!
//! They look like shell command substitution because that is what users of the original
//! operator wrote, but nothing is ever run by a shell: the text between `$(` and `)` is
//! matched against these two forms and anything else is refused. Every placeholder renders
//! the one instant passed in, so all files of a run, and a retry of that run, agree.

use jiff::{Timestamp, tz::TimeZone};

mod bound;

pub use bound::MAX_WIDTH_DIGITS;

/// The supported forms, as error messages name them.
pub const SUPPORTED_FORMS: &str = "`$(date)` (e.g. `Sun Nov 22 13:00:00 UTC 2026`) and `$(date +FORMAT)` with a strftime FORMAT such as `$(date +%Y-%m-%d)`, both in UTC";

/// GNU `date`'s default output format in the C locale.
const GNU_DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";

/// The most bytes one placeholder may render to, at its longest (see [`max_rendered_len`]).
/// Generous for any real date (`$(date)` is at most 58), and what keeps a template's rendered
/// size within a small multiple of its own: a placeholder is at least 7 bytes long.
pub const MAX_PLACEHOLDER_BYTES: usize = 256;

/// Why a template was refused. Messages list the supported forms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error(
        "unsupported placeholder `{found}`: the only placeholders are {SUPPORTED_FORMS}; nothing is run by a shell"
    )]
    Unsupported { found: String },
    #[error(
        "placeholder `{found}` is not closed with `)`: the only placeholders are {SUPPORTED_FORMS}"
    )]
    Unclosed { found: String },
    #[error(
        "placeholder `{found}` has an invalid date format: {reason}; use strftime directives such as `%Y`, `%m`, `%d`, `%H`, `%M`, `%S` (write `%%` for a literal `%`)"
    )]
    BadFormat { found: String, reason: String },
    #[error(
        "placeholder `{found}` pads `{directive}` wider than 99: a width has at most {MAX_WIDTH_DIGITS} digits; write e.g. `%4Y` or `%02d`"
    )]
    Width { found: String, directive: String },
    #[error(
        "placeholder `{found}` can render up to {bound} bytes, more than the {MAX_PLACEHOLDER_BYTES} one placeholder may: use fewer directives or narrower widths, or split it into several placeholders"
    )]
    TooLong { found: String, bound: usize },
}

/// One piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `$(date)` (`None`) or `$(date +FORMAT)`; `source` is the placeholder as written and
    /// `bound` the most bytes it renders to.
    Date {
        format: Option<String>,
        source: &'a str,
        bound: usize,
    },
}

/// Renders every placeholder in `template` at the instant `at`, in UTC.
pub fn render(template: &str, at: Timestamp) -> Result<String, PlaceholderError> {
    let zoned = at.to_zoned(TimeZone::UTC);
    let mut out = String::with_capacity(template.len());
    for piece in parse(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Date {
                format,
                source,
                bound,
            } => {
                let format = format.as_deref().unwrap_or(GNU_DEFAULT_FORMAT);
                let rendered = jiff::fmt::strtime::format(format, &zoned).map_err(|error| {
                    PlaceholderError::BadFormat {
                        found: shorten(source),
                        reason: error.to_string(),
                    }
                })?;
                // The bound is what the size rules were checked against; text longer than it
                // must not reach a commit (placeholders/bound.rs makes this unreachable).
                if rendered.len() > bound {
                    return Err(PlaceholderError::TooLong {
                        found: shorten(source),
                        bound: rendered.len(),
                    });
                }
                out.push_str(&rendered);
            }
        }
    }
    Ok(out)
}

/// The most bytes `template` renders to at any instant: its text plus each placeholder at its
/// longest. Size limits compare this, not the template's own length, because `$(date)` is 7
/// bytes that render to about 30.
pub fn max_rendered_len(template: &str) -> Result<usize, PlaceholderError> {
    Ok(parse(template)?
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.len(),
            Piece::Date { bound, .. } => *bound,
        })
        .fold(0, usize::saturating_add))
}

/// Checks `template` without a run's timestamp (for the admission webhook): it succeeds
/// exactly when [`render`] would.
pub fn validate(template: &str) -> Result<(), PlaceholderError> {
    render(template, Timestamp::UNIX_EPOCH).map(drop)
}

/// Whether `template` contains any placeholder, i.e. whether its rendering depends on time.
pub fn has_placeholders(template: &str) -> bool {
    template.contains("$(")
}

fn parse(template: &str) -> Result<Vec<Piece<'_>>, PlaceholderError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("$(") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start..];
        let end = closing_paren(after).ok_or_else(|| PlaceholderError::Unclosed {
            found: shorten(after),
        })?;
        let source = &after[..=end];
        let format =
            parse_command(&after[2..end]).ok_or_else(|| PlaceholderError::Unsupported {
                found: shorten(source),
            })?;
        let bound = bound::format_bound(format.as_deref().unwrap_or(GNU_DEFAULT_FORMAT)).map_err(
            |bound::BoundError::Width { directive }| PlaceholderError::Width {
                found: shorten(source),
                directive: shorten(&directive),
            },
        )?;
        if bound > MAX_PLACEHOLDER_BYTES {
            return Err(PlaceholderError::TooLong {
                found: shorten(source),
                bound,
            });
        }
        pieces.push(Piece::Date {
            format,
            source,
            bound,
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Byte index of the `)` that closes the `$(` at the start of `text`, counting nested
/// parentheses so `$(date +(%Y))` closes where a shell would close it.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, byte) in text.bytes().enumerate().skip(1) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

/// `date` → `Some(None)`; `date +FORMAT` (optionally `-u`/`--utc`, and with quotes as a shell
/// user would write them: `+"%F %T"`, `'+%F'`) → `Some(Some(FORMAT))`; anything else → `None`.
fn parse_command(command: &str) -> Option<Option<String>> {
    let words = shell_words(command)?;
    let mut words = words.iter().map(String::as_str).peekable();
    if words.next()? != "date" {
        return None;
    }
    // We always render UTC, so the flag that asks for UTC is harmless to accept.
    while words.next_if(|w| *w == "-u" || *w == "--utc").is_some() {}
    let format = match words.next() {
        None => return Some(None),
        Some(word) => word.strip_prefix('+')?.to_owned(),
    };
    words.next().is_none().then_some(Some(format))
}

/// Splits like a shell that knows only whitespace and quotes (no escapes, no expansion);
/// `None` for an unclosed quote.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                let current = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        other => current.push(other),
                    }
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// Keeps error messages readable when the input is huge.
fn shorten(text: &str) -> String {
    const KEEP: usize = 80;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
