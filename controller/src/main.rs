//! The `gco-controller` binary. Thin: flags in [`Args`], work in the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use gco_controller::render::offline::{self, PreviewRequest};

/// git-change-operator's controller.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the operator: reconcile GitCommits until SIGTERM.
    Run(Box<gco_controller::runtime::OperatorArgs>),
    /// Print the files a GitCommit or PullRequest would write, offline (and with --repo, the
    /// diff against the branch tip). Refuses unsafe paths and unknown placeholders exactly as
    /// the controller does.
    Render(RenderArgs),
}

#[derive(Debug, clap::Args)]
struct RenderArgs {
    /// The GitCommit or PullRequest manifest.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Manifest files or folders holding the referenced objects (repeatable).
    #[arg(long = "objects")]
    objects: Vec<PathBuf>,
    /// A repository path or URL (anonymous access) to diff against.
    #[arg(long)]
    repo: Option<String>,
    /// The instant placeholders render, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<jiff::Timestamp>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Run(run) => {
            // kube and reqwest both use rustls: one process-wide provider, chosen once.
            let _ = rustls::crypto::ring::default_provider().install_default();
            gco_runtime::telemetry::init(run.log_format)?;
            tokio::runtime::Runtime::new()?.block_on(gco_controller::runtime::operate(*run))
        }
        Command::Render(render) => {
            let request = PreviewRequest {
                spec_file: render.file,
                objects: render.objects,
                repo: render.repo,
                at: render.at.unwrap_or_else(jiff::Timestamp::now),
                cache_dir: None,
            };
            let output = offline::preview(&request).context("render failed")?;
            print!("{output}");
            Ok(())
        }
    }
}
