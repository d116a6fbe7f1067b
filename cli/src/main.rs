//! `kubectl-gco`: a kubectl plugin (kubectl runs it for `kubectl gco …`) that also works on
//! its own. Thin: flags in [`gco_cli::args::Cli`], work in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = gco_cli::args::Cli::parse();
    // kube's rustls uses ring; it is made the process default before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| gco_cli::CliError::Failed(format!("cannot start: {e}")))
        .and_then(|runtime| runtime.block_on(gco_cli::run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            gco_cli::style::error(&error.to_string());
            ExitCode::FAILURE
        }
    }
}
