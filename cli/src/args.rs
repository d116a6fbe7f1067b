//! The command line: every verb and flag, as clap definitions (also the source of shell
//! completion).

use clap::{Parser, Subcommand};

use crate::{
    cluster::ClusterArgs,
    get::GetArgs,
    migrate::MigrateArgs,
    reconcile::{ReconcileArgs, SuspendArgs},
    render::{DiffArgs, RenderArgs},
    target::Target,
    trace::TraceArgs,
};

/// GitCommits and PullRequests of git-change-operator, from the command line: a kubectl
/// plugin (`kubectl gco …`) that also runs on its own.
#[derive(Debug, Parser)]
#[command(name = "kubectl-gco", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List GitCommits and PullRequests: Ready, reason, repository, branch or pull request,
    /// commit, last and next run.
    Get(GetArgs),
    /// Ask the controller for a run now (Flux's reconcile annotation); with --wait, follow it
    /// and exit non-zero if it fails.
    Reconcile(ReconcileArgs),
    /// Stop all runs of an object (spec.suspend: true).
    Suspend(SuspendArgs),
    /// Let an object run again (spec.suspend: false).
    Resume(SuspendArgs),
    /// The Kubernetes events regarding an object.
    Events(TargetArgs),
    /// An object's last runs (status.history).
    History(TargetArgs),
    /// The files an object would write, rendered by the controller's own code; nothing is
    /// pushed.
    Render(RenderArgs),
    /// The patch an object would make on its branch tip; nothing is pushed.
    Diff(DiffArgs),
    /// Which object wrote a file in a repository, in which run, and how it stands now.
    Trace(TraceArgs),
    /// Convert the original Go operator's GitCommits and PullRequests (1.2.x) into this API,
    /// listing what has no equivalent.
    Migrate(MigrateArgs),
    /// Print a shell completion script.
    Completion(CompletionArgs),
}

/// One object.
#[derive(Clone, Debug, clap::Args)]
pub struct TargetArgs {
    /// gitcommit/NAME or pullrequest/NAME.
    pub target: Target,
}

/// `completion` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}
