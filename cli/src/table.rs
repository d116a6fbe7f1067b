//! Aligned text tables as kubectl prints them, with a colour for the cells that carry a
//! state, and the short forms of times and commits that go in them. Pure: the ANSI codes are
//! always written here, and [`anstream`] strips them when stdout is not a terminal (or
//! `NO_COLOR` is set), so colours appear only on a terminal.

use anstyle::{AnsiColor, Style};
use jiff::Timestamp;

/// One cell: its text and how to colour it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            style: Style::new(),
        }
    }

    /// A condition status: True green, False red, anything else yellow.
    pub fn status(text: &str) -> Self {
        let color = match text {
            "True" => AnsiColor::Green,
            "False" => AnsiColor::Red,
            _ => AnsiColor::Yellow,
        };
        Cell {
            text: text.to_owned(),
            style: Style::new().fg_color(Some(color.into())),
        }
    }

    /// An event type or run result: Warning and Failed red, everything else plain.
    pub fn severity(text: &str) -> Self {
        match text {
            "Warning" | "Failed" => Cell {
                text: text.to_owned(),
                style: Style::new().fg_color(Some(AnsiColor::Red.into())),
            },
            _ => Cell::plain(text),
        }
    }
}

/// `headers` and `rows` as columns separated by three spaces, the last column unpadded.
pub fn render(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<Cell> = headers.iter().map(|h| Cell::plain(*h)).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            let last = index + 1 == row.len();
            let pad = if last {
                0
            } else {
                widths.get(index).copied().unwrap_or(0) - cell.text.chars().count() + 3
            };
            line.push_str(&format!(
                "{}{}{}{}",
                cell.style.render(),
                cell.text,
                cell.style.render_reset(),
                " ".repeat(pad)
            ));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// How long ago `then` was, in kubectl's short form: `45s`, `12m`, `5h`, `3d`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    short(now.as_second().saturating_sub(then.as_second()))
}

/// How long until `then`: `in 12m`, or `due` once it has passed.
pub fn until(now: Timestamp, then: Timestamp) -> String {
    let seconds = then.as_second().saturating_sub(now.as_second());
    if seconds <= 0 {
        "due".to_owned()
    } else {
        format!("in {}", short(seconds))
    }
}

fn short(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7_200 => format!("{}m", seconds / 60),
        7_200..172_800 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// The first seven characters of a commit id, as git abbreviates it.
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(text: &str) -> String {
        let mut out = Vec::new();
        let mut stream = anstream::StripStream::new(&mut out);
        std::io::Write::write_all(&mut stream, text.as_bytes()).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn columns_align_and_colour_codes_do_not_count() {
        let rows = vec![
            vec![Cell::plain("a"), Cell::status("True"), Cell::plain("x")],
            vec![
                Cell::plain("longer"),
                Cell::status("False"),
                Cell::plain("y"),
            ],
        ];
        let text = render(&["NAME", "READY", "LAST"], &rows);
        assert!(text.contains("\u{1b}["), "the state cells are coloured");
        assert_eq!(
            strip(&text),
            "NAME     READY   LAST\na        True    x\nlonger   False   y\n"
        );
    }

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let now: Timestamp = "2026-01-02T00:00:00Z".parse().expect("now");
        let ago = |s: i64| age(now, now - jiff::SignedDuration::from_secs(s));
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 3600), "3h");
        assert_eq!(ago(3 * 86_400), "3d");
        assert_eq!(ago(-5), "0s", "a clock skew never shows a negative age");
        assert_eq!(
            until(now, now + jiff::SignedDuration::from_secs(300)),
            "in 5m"
        );
        assert_eq!(until(now, now - jiff::SignedDuration::from_secs(1)), "due");
        assert_eq!(short_sha("0123456789abcdef"), "0123456");
    }
}
