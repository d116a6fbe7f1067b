//! `kubectl gco`: the command line for GitCommits and PullRequests (docs/cli.md).
//!
//! One module per verb, each a thin layer of I/O over a pure part that the unit tests cover:
//! [`get`] (the table), [`reconcile`] (requests, suspend, resume; [`progress`] judges a run),
//! [`events`], [`history`], [`render`] (the controller's own renderer, offline or `--live`),
//! [`trace`] (commit trailers back to objects), [`migrate`] (the original operator's objects,
//! from a file or `--live`) and [`completion`]. [`cluster`] connects as kubectl does;
//! [`object`] is the view of either kind every verb reads.
#![forbid(unsafe_code)]

pub mod args;
pub mod cluster;
pub mod completion;
pub mod error;
pub mod events;
pub mod get;
pub mod history;
pub mod migrate;
pub mod object;
pub mod progress;
pub mod reconcile;
pub mod render;
pub mod style;
pub mod table;
pub mod target;
pub mod trace;

use std::io::Write as _;

use args::{Cli, Command};
use cluster::Cluster;
pub use error::CliError;

/// Runs one command line to its end; what it prints goes to stdout (results) and stderr
/// (progress).
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let connect = || Cluster::connect(&cli.cluster);
    let text = match &cli.command {
        Command::Get(args) => {
            get::run(&connect().await?, args).await?;
            return Ok(());
        }
        Command::Reconcile(args) => {
            reconcile::reconcile(&connect().await?, args).await?;
            return Ok(());
        }
        Command::Suspend(args) => {
            reconcile::suspend(&connect().await?, args, true).await?;
            return Ok(());
        }
        Command::Resume(args) => {
            reconcile::suspend(&connect().await?, args, false).await?;
            return Ok(());
        }
        Command::Events(args) => events::run(&connect().await?, &args.target).await?,
        Command::History(args) => {
            let object = connect().await?.get(&args.target).await?;
            history::render(&object, jiff::Timestamp::now())
        }
        Command::Render(args) => {
            let cluster = match render::needs_cluster(args) {
                true => Some(connect().await?),
                false => None,
            };
            render::render(cluster.as_ref(), args).await?
        }
        Command::Diff(args) => {
            let cluster = match render::needs_cluster(&args.render) {
                true => Some(connect().await?),
                false => None,
            };
            render::diff(cluster.as_ref(), args).await?
        }
        Command::Trace(args) => trace::run(&connect().await?, args).await?,
        Command::Migrate(args) => {
            let cluster = match args.live {
                true => Some(connect().await?),
                false => None,
            };
            migrate::run(cluster.as_ref(), args).await?
        }
        Command::Completion(args) => {
            let script = completion::script(args.shell, &completion::own_name());
            let _ = std::io::stdout().write_all(&script);
            return Ok(());
        }
    };
    let mut out = anstream::stdout();
    // A closed pipe (`| head`) ends the output, not the program.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(())
}
