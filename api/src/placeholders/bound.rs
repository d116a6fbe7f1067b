//! The most bytes one `$(date +FORMAT)` can render, known from the FORMAT alone.
//!
//! Knowing it without an instant is what lets the admission webhook check sizes that depend
//! on the rendered text (`limits.maxFileBytes`, the built-in ceilings) before any run: a
//! template renders to at most its literal bytes plus the bound of each placeholder, at every
//! instant. The bound is deliberately generous (a directive counts at its longest spelling
//! over every representable year, month, weekday and zone), and `render` refuses any output
//! longer than it, so the bound is a guarantee rather than an estimate.
//!
//! The FORMAT is walked the way jiff's strftime walks it (`%`, an optional flag among
//! `_ 0 - ^ #`, an optional width, up to three `:`, the directive, and `%.Nf`), because a
//! width is the one way a short FORMAT renders long: `%255Y` is 255 bytes from 5.

/// Most digits of a width or precision: `%99Y` is allowed, `%100Y` is refused.
pub const MAX_WIDTH_DIGITS: usize = 2;

/// Why a FORMAT has no acceptable bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum BoundError {
    /// A width or precision of more than [`MAX_WIDTH_DIGITS`] digits, e.g. `%255Y`.
    Width { directive: String },
}

/// The most bytes `FORMAT` renders to, at any instant. A directive jiff does not know counts
/// as 0: jiff refuses the whole FORMAT, so nothing is rendered.
pub(super) fn format_bound(format: &str) -> Result<usize, BoundError> {
    let bytes = format.as_bytes();
    let mut total = 0usize;
    let mut at = 0usize;
    while at < bytes.len() {
        if bytes[at] != b'%' {
            total = total.saturating_add(1);
            at += 1;
            continue;
        }
        let start = at;
        at += 1;
        if bytes.get(at).is_some_and(|b| b"_0-^#".contains(b)) {
            at += 1;
        }
        let width = digits(bytes, &mut at);
        while bytes.get(at) == Some(&b':') {
            at += 1;
        }
        let mut precision = None;
        let mut directive = bytes.get(at).copied();
        if directive == Some(b'.') {
            at += 1;
            precision = Some(digits(bytes, &mut at));
            directive = bytes.get(at).copied();
        }
        at += 1;
        let spelled = || String::from_utf8_lossy(&bytes[start..at.min(bytes.len())]).into_owned();
        let too_wide = |d: &[u8]| d.len() > MAX_WIDTH_DIGITS;
        if too_wide(width) || precision.is_some_and(too_wide) {
            return Err(BoundError::Width {
                directive: spelled(),
            });
        }
        let natural = directive.map_or(0, longest);
        let dot = usize::from(precision.is_some());
        total = total.saturating_add(dot + natural.max(number(width)));
    }
    Ok(total)
}

/// The digits at `at`, which is moved past them.
fn digits<'a>(bytes: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = *at;
    while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
        *at += 1;
    }
    &bytes[start..*at]
}

/// The value of at most [`MAX_WIDTH_DIGITS`] digits.
fn number(digits: &[u8]) -> usize {
    digits
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))
}

/// The longest rendering of one directive without a width, over every instant jiff can
/// represent (years -9999 to 9999) and any zone. A width only ever pads numbers up to that
/// width (and caps `%f`), so `max(width, longest)` bounds a directive with one.
fn longest(directive: u8) -> usize {
    match directive {
        b'%' | b'n' | b't' | b'q' | b'u' | b'w' => 1,
        b'P' | b'p' => 2,
        b'd' | b'e' | b'H' | b'I' | b'k' | b'l' | b'M' | b'm' | b'S' | b'U' | b'V' | b'W' => 2,
        // Three letters, or a possibly negative two-digit number (`%y` of year -99 is `-99`).
        b'a' | b'b' | b'h' | b'C' | b'g' | b'y' | b'j' => 3,
        b'G' | b'Y' | b'R' => 5,
        b'T' | b'X' => 8,
        b'A' | b'B' | b'f' | b'N' | b'z' => 9,
        // Composite directives: dates and 12-hour times with a five-character year.
        b'D' | b'F' | b'r' | b'x' => 16,
        // Seconds since 1970 over jiff's range need 13 bytes; 20 holds any i64.
        b's' => 20,
        b'c' => 32,
        // Zone abbreviations and IANA names; the operator renders UTC, but the bound holds
        // for any zone.
        b'Z' => 32,
        b'Q' => 64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_up_to_two_digits_count_at_their_width() {
        assert_eq!(format_bound("%Y-%m-%d"), Ok(5 + 1 + 2 + 1 + 2));
        assert_eq!(format_bound("%99Y"), Ok(99));
        assert_eq!(format_bound("%_10d"), Ok(10));
        assert_eq!(format_bound("%-d"), Ok(2));
        assert_eq!(format_bound("%.3f"), Ok(10));
        assert_eq!(format_bound("%::z"), Ok(9));
        assert_eq!(format_bound("100%%"), Ok(4));
        assert_eq!(format_bound("é"), Ok(2));
        assert_eq!(format_bound(""), Ok(0));
    }

    #[test]
    fn wider_widths_are_refused_by_name() {
        for (format, directive) in [
            ("%255Y", "%255Y"),
            ("x %0100d y", "%0100d"),
            ("%.100f", "%.100f"),
            ("%999", "%999"),
        ] {
            assert_eq!(
                format_bound(format),
                Err(BoundError::Width {
                    directive: directive.into()
                }),
                "{format}"
            );
        }
    }

    #[test]
    fn malformed_formats_never_panic() {
        for format in ["%", "%_", "%9", "%:", "%.", "%.9", "%\u{e9}", "%%%"] {
            let _ = format_bound(format);
        }
    }
}
