//! Progress lines on stderr, in `flux`'s shape (► a step, ◎ waiting, ✔ done), so stdout holds
//! only results. Colour codes are stripped by [`anstream`] unless stderr is a terminal.

use anstyle::{AnsiColor, Style};

fn line(symbol: &str, color: AnsiColor, text: &str) {
    let style = Style::new().fg_color(Some(color.into()));
    anstream::eprintln!("{}{symbol}{} {text}", style.render(), style.render_reset());
}

/// An action about to be taken.
pub fn step(text: &str) {
    line("►", AnsiColor::Blue, text);
}

/// A state being waited out.
pub fn wait(text: &str) {
    line("◎", AnsiColor::Yellow, text);
}

/// An action finished well.
pub fn done(text: &str) {
    line("✔", AnsiColor::Green, text);
}

/// Something the user has to look at (what `migrate` could not convert).
pub fn note(text: &str) {
    line("!", AnsiColor::Yellow, text);
}

/// A detail of the line before.
pub fn detail(text: &str) {
    anstream::eprintln!("  {text}");
}

/// The error a command ended with.
pub fn error(text: &str) {
    line("✗", AnsiColor::Red, text);
}
