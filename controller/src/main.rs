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
    /// diff against the branch tip). Refuses exactly what the webhook and the controller
    /// refuse: the built-in rules, and the policies given with --policy.
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
    /// A file of GitExportPolicies to judge the spec by, as the cluster would (repeatable).
    /// Every policy given applies, whatever its namespaceSelector.
    #[arg(long = "policy")]
    policies: Vec<PathBuf>,
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
                policies: render.policies,
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
