//! Structured logs: JSON for machines (one flattened object per event, what log pipelines
//! index), text for people.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub use tracing_subscriber::util::TryInitError;

/// The `--log-format` flag's values: `json` or `text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level. Fails only
/// when a subscriber is already installed (a second call, or a test harness's).
pub fn init(format: LogFormat) -> Result<(), TryInitError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
        // Colours only on a terminal: a log file or collector would keep the escape codes.
        LogFormat::Text => registry
            .with(fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum as _;

    use super::LogFormat;

    #[test]
    fn the_flag_accepts_exactly_json_and_text() {
        assert_eq!(LogFormat::from_str("json", false), Ok(LogFormat::Json));
        assert_eq!(LogFormat::from_str("text", false), Ok(LogFormat::Text));
        assert!(LogFormat::from_str("JSON", false).is_err());
        assert!(LogFormat::from_str("logfmt", false).is_err());
    }
}
