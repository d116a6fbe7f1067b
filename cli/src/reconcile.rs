//! `reconcile`, `suspend` and `resume`: ask the controller for a run (the annotation
//! `flux reconcile` sets) or switch `spec.suspend`, and with `--wait` follow the object until
//! the controller has handled it, as `flux reconcile` does.

use std::time::Duration;

use jiff::SignedDuration;
use serde_json::json;

use crate::{
    cluster::Cluster,
    error::CliError,
    object::Exported,
    progress::{Expectation, Progress, judge},
    style,
    target::Target,
};

/// The annotation a reconcile request sets: Flux's, which the controller honours.
pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";

/// `reconcile` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct ReconcileArgs {
    /// gitcommit/NAME or pullrequest/NAME.
    pub target: Target,
    /// Wait until the controller has handled the request; exit non-zero if the run failed.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 90s, 5m).
    #[arg(long, default_value = "2m")]
    pub timeout: SignedDuration,
}

/// `suspend` and `resume` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct SuspendArgs {
    /// gitcommit/NAME or pullrequest/NAME.
    pub target: Target,
    /// (resume) Wait until the resumed object has run; exit non-zero if the run failed.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 90s, 5m).
    #[arg(long, default_value = "2m")]
    pub timeout: SignedDuration,
}

pub async fn reconcile(cluster: &Cluster, args: &ReconcileArgs) -> Result<(), CliError> {
    let object = cluster.get(&args.target).await?;
    if object.export().suspend {
        return Err(CliError::Failed(format!(
            "{} is suspended: resume it first with `kubectl gco resume {}`",
            args.target, args.target
        )));
    }
    let requested = jiff::Timestamp::now().to_string();
    style::step(&format!(
        "annotating {} in {}",
        args.target, cluster.namespace
    ));
    let patch = json!({ "metadata": { "annotations": { REQUESTED_AT: requested } } });
    let object = cluster.merge(&args.target, &patch).await?;
    if !args.wait {
        style::done(&format!("reconcile requested ({REQUESTED_AT}={requested})"));
        return Ok(());
    }
    let expected = Expectation {
        generation: object.generation(),
        requested: Some(requested),
    };
    wait(cluster, &args.target, &expected, args.timeout).await
}

pub async fn suspend(cluster: &Cluster, args: &SuspendArgs, suspend: bool) -> Result<(), CliError> {
    let verb = if suspend { "suspending" } else { "resuming" };
    style::step(&format!("{verb} {} in {}", args.target, cluster.namespace));
    let object = cluster
        .merge(&args.target, &json!({ "spec": { "suspend": suspend } }))
        .await?;
    let done = if suspend { "suspended" } else { "resumed" };
    style::done(&format!("{} {done}", args.target));
    if args.wait && !suspend {
        let expected = Expectation {
            generation: object.generation(),
            requested: None,
        };
        return wait(cluster, &args.target, &expected, args.timeout).await;
    }
    Ok(())
}

/// Polls the object until [`judge`] decides, printing each new state on stderr.
async fn wait(
    cluster: &Cluster,
    target: &Target,
    expected: &Expectation,
    timeout: SignedDuration,
) -> Result<(), CliError> {
    let limit = Duration::try_from(timeout)
        .map_err(|_| CliError::Usage(format!("--timeout {timeout} must be positive")))?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = String::new();
    loop {
        let object: Exported = cluster.get(target).await?;
        match judge(&object, expected) {
            Progress::Waiting(text) => {
                if text != last {
                    style::wait(&text);
                    last = text;
                }
            }
            Progress::Succeeded { commit, message } => {
                let commit =
                    commit.map_or_else(|| "no commit".to_owned(), |c| format!("commit {c}"));
                style::done(&format!("{target} reconciled: {commit}"));
                if !message.is_empty() {
                    style::detail(&message);
                }
                return Ok(());
            }
            Progress::Failed { reason, message } => {
                return Err(CliError::Failed(format!(
                    "{target} failed ({reason}): {message}\nsee `kubectl gco events {target}`; \
                     docs/controller.md lists what to do about each reason"
                )));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::Timeout {
                what: format!("the reconcile of {target}"),
                target: target.to_string(),
                timeout: format!("{timeout:#}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
