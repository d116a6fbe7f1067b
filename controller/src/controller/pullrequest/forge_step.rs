//! The PullRequest's delivery: the head branch (lease pushes) and the forge (find, update or
//! open the pull request; after a merge, start again from the new base).

use std::time::Instant;

use gco_api::{ConditionReason, PullRequest, PullRequestState, RunResult};
use kube::runtime::controller::Action;
use tracing::{info, warn};

use super::{body, head_branch, poll, title};
use crate::{
    controller::{
        Error, credentials,
        export::{Delivery, Run},
        reason_of,
        status::write,
    },
    events::{Announcement, reason},
    forge::{Forge, ForgeError, Proposal, Proposed},
    git::{GitError, Outcome, redact::redact_url},
    metrics::{OperationLabels, ResultLabels},
    retry::RetrySettings,
};

type PrRun<'a> = Run<'a, PullRequest>;

/// How long a deleted head branch is left alone before it is created again.
const BRANCH_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Pushes the run's change to the head branch and keeps its one pull request open.
pub async fn deliver(mut run: PrRun<'_>, d: Delivery) -> Result<Action, Error> {
    let spec = &run.object.spec;
    let head = head_branch(spec, &run.namespace, &run.name);
    let base = spec.repository.base_branch.clone();
    let (title, body) = match (title(spec, d.at), body(spec, d.at)) {
        (Ok(title), Ok(body)) => (title, body),
        (Err(message), _) | (_, Err(message)) => {
            return run.stall(ConditionReason::RenderFailed, message).await;
        }
    };
    let forge = match Forge::for_repository(&spec.repository, d.credentials.api_token()) {
        Ok(forge) => forge,
        Err(error) => {
            return run
                .stall(ConditionReason::RenderFailed, error.to_string())
                .await;
        }
    };

    match follow_known(&mut run, &forge, &head).await {
        Ok(Followed::Settling) => {
            // Forges close the pull requests of a deleted branch asynchronously (Gitea queues
            // it): a pull request opened at once on the re-created branch could be closed by
            // that. Push and open on the next pass instead.
            write(&run.api, &run.name, &run.status).await?;
            return Ok(Action::requeue(BRANCH_SETTLE));
        }
        Ok(Followed::Ready) => {}
        Err(error) => return forge_failed(run, &d.settings, error).await,
    }
    let expected = if run.status.head_branch.as_deref() == Some(head.as_str()) {
        run.status.head_sha.clone()
    } else {
        None
    };
    let outcome = match push(&run, &d, &base, &head, expected).await {
        Ok(outcome) => outcome,
        Err(error) => return git_failed(run, &d.settings, error).await,
    };
    run.status.head_branch = Some(head.clone());
    let Some(sha) = outcome.commit().map(str::to_owned) else {
        // No head branch and nothing that differs from the base: no pull request.
        run.status.head_sha = None;
        let message = format!("no changes against {base}: no pull request is needed");
        let announcement = Announcement {
            warning: false,
            reason: reason::NO_CHANGES.into(),
            message: message.clone(),
            revision: None,
            token: d.run_id.to_string(),
        };
        let now = run.now;
        run.finish(
            RunResult::NoChanges,
            None,
            message,
            &d.skipped,
            Some(announcement),
            &d.run_id,
        )
        .await?;
        return Ok(poll(d.next_tick, now));
    };
    run.status.head_sha = Some(sha.clone());
    run.common().commit_sha = Some(sha.clone());
    let pushed = !matches!(outcome, Outcome::NoChanges { .. });

    let proposal = Proposal {
        head: head.clone(),
        base,
        title,
        body,
    };
    let (pr, proposed) = match forge.open_or_update(&proposal, pushed).await {
        Ok(found) => found,
        Err(error) => return forge_failed(run, &d.settings, error).await,
    };
    run.status.pull_request_number = Some(pr.number);
    run.status.pull_request_url = Some(pr.url.clone());
    run.status.pull_request_state = Some(pr.state);

    let short = &sha[..sha.len().min(12)];
    let (event_reason, mut message) = match proposed {
        Proposed::Opened => (
            reason::PULL_REQUEST_OPENED,
            format!(
                "opened pull request #{} {} from {head} at {short}",
                pr.number, pr.url
            ),
        ),
        Proposed::Updated => (
            reason::PULL_REQUEST_UPDATED,
            format!(
                "updated pull request #{} {} ({head} at {short})",
                pr.number, pr.url
            ),
        ),
        Proposed::Unchanged => (
            reason::NO_CHANGES,
            format!(
                "no changes: pull request #{} {} is up to date ({head} at {short})",
                pr.number, pr.url
            ),
        ),
    };
    if !d.skipped.is_empty() {
        message.push_str(&format!(
            "; skipped missing optional references: {}",
            d.skipped.join(", ")
        ));
    }
    info!(namespace = %run.namespace, name = %run.name, repository = %redact_url(&spec.repository.url), %head, commit = short, pull_request = %pr.url, run = %d.run_id, "{message}");
    let announcement = Announcement {
        warning: false,
        reason: event_reason.into(),
        message: message.clone(),
        revision: Some(format!("{head}@sha1:{sha}")),
        token: d.run_id.to_string(),
    };
    let result = if pushed {
        RunResult::Committed
    } else {
        RunResult::NoChanges
    };
    let now = run.now;
    run.finish(
        result,
        Some(&sha),
        message,
        &d.skipped,
        Some(announcement),
        &d.run_id,
    )
    .await?;
    Ok(poll(d.next_tick, now))
}

/// What [`follow_known`] found.
enum Followed {
    /// Go on: push and open or update.
    Ready,
    /// A merged head branch was just deleted: give the forge a moment before re-creating it.
    Settling,
}

/// Looks at the pull request the status names: merged → its head branch is deleted (if it
/// still holds our last push) so the next change starts from the new base; merged or closed →
/// forgotten, so the next change opens a new one.
async fn follow_known(
    run: &mut PrRun<'_>,
    forge: &Forge,
    head: &str,
) -> Result<Followed, ForgeError> {
    let Some(number) = run.status.pull_request_number else {
        return Ok(Followed::Ready);
    };
    if run.status.head_branch.as_deref() != Some(head) {
        // The head branch was renamed in the spec: the old pull request is not ours to follow.
        forget(run, None);
        return Ok(Followed::Ready);
    }
    let state = match forge.get(number).await {
        Ok(pr) => pr.state,
        Err(ForgeError::NotFound { .. }) => PullRequestState::Closed,
        Err(error) => return Err(error),
    };
    match state {
        PullRequestState::Open => Ok(Followed::Ready),
        PullRequestState::Closed => {
            forget(run, Some(state));
            Ok(Followed::Ready)
        }
        PullRequestState::Merged => {
            forget(run, Some(state));
            let tip = forge.branch_tip(head).await?;
            if tip.is_none() {
                run.status.head_sha = None;
                return Ok(Followed::Ready);
            }
            if tip != run.status.head_sha {
                // Someone pushed after the merge: the lease reports HeadBranchDiverged.
                return Ok(Followed::Ready);
            }
            forge.delete_branch(head).await?;
            run.status.head_sha = None;
            Ok(Followed::Settling)
        }
    }
}

fn forget(run: &mut PrRun<'_>, state: Option<PullRequestState>) {
    run.status.pull_request_number = None;
    run.status.pull_request_url = None;
    run.status.pull_request_state = state;
}

/// Commits to the head branch with a lease on `expected`. A head that moved is adopted only
/// when its tip is this very run's commit (a crash between push and status write).
async fn push(
    run: &PrRun<'_>,
    d: &Delivery,
    base: &str,
    head: &str,
    expected: Option<String>,
) -> Result<Outcome, GitError> {
    let (engine, url) = (&run.ctx.engine, run.object.spec.repository.url.as_str());
    let started = Instant::now();
    let mut outcome = engine
        .commit_head_branch(
            url,
            base,
            head,
            expected.as_deref(),
            &d.credentials,
            d.change.clone(),
        )
        .await;
    if let Err(GitError::HeadBranchDiverged { found, .. }) = &outcome
        && let Ok(Some(commit)) = engine.find_run(url, head, &d.credentials, &d.run_id).await
        && &commit == found
    {
        outcome = engine
            .commit_head_branch(
                url,
                base,
                head,
                Some(found),
                &d.credentials,
                d.change.clone(),
            )
            .await;
    }
    let metrics = &run.ctx.metrics;
    metrics
        .git_operation_duration
        .get_or_create(&OperationLabels {
            operation: "head-branch".into(),
        })
        .observe(started.elapsed().as_secs_f64());
    let result = match &outcome {
        Ok(Outcome::Committed { .. }) => "committed",
        Ok(Outcome::NoChanges { .. }) => "no-changes",
        Ok(Outcome::AlreadyApplied { .. }) => "already-applied",
        Err(_) => "failed",
    };
    metrics
        .pushes
        .get_or_create(&ResultLabels {
            result: result.into(),
        })
        .inc();
    outcome
}

/// Nothing to deliver (same inputs as the finished run): notice a merge or close of the
/// pull request, so the status says so before the next change.
pub async fn refresh(mut run: PrRun<'_>) -> Result<(), Error> {
    let (Some(number), Some(PullRequestState::Open)) = (
        run.status.pull_request_number,
        run.status.pull_request_state,
    ) else {
        return Ok(());
    };
    let spec = &run.object.spec;
    let secret = spec.auth.as_ref().map(|a| a.secret_name.as_str());
    let credentials = match credentials(&run.ctx.client, &run.namespace, secret).await {
        Ok(credentials) => credentials,
        Err(error) => {
            warn!(namespace = %run.namespace, name = %run.name, %error, "cannot look at the pull request");
            return Ok(());
        }
    };
    let state = match Forge::for_repository(&spec.repository, credentials.api_token()) {
        Ok(forge) => forge.get(number).await,
        Err(error) => Err(error),
    };
    match state {
        Ok(pr) if pr.state != PullRequestState::Open => {
            info!(namespace = %run.namespace, name = %run.name, pull_request = %pr.url, state = ?pr.state, "pull request is no longer open");
            run.status.pull_request_state = Some(pr.state);
            write(&run.api, &run.name, &run.status).await?;
        }
        Ok(_) => {}
        Err(error) => {
            warn!(namespace = %run.namespace, name = %run.name, %error, "cannot look at the pull request");
        }
    }
    Ok(())
}

async fn git_failed(
    mut run: PrRun<'_>,
    settings: &RetrySettings,
    error: GitError,
) -> Result<Action, Error> {
    let reason = reason_of(&error);
    if reason == ConditionReason::RenderFailed {
        return run.stall(reason, error.to_string()).await;
    }
    run.fail(settings, reason, error.to_string()).await
}

async fn forge_failed(
    mut run: PrRun<'_>,
    settings: &RetrySettings,
    error: ForgeError,
) -> Result<Action, Error> {
    if error.is_permanent() {
        return run
            .stall(ConditionReason::RenderFailed, error.to_string())
            .await;
    }
    let reason = if error.is_auth() {
        ConditionReason::AuthenticationFailed
    } else {
        ConditionReason::ProgressingWithRetry
    };
    run.fail_with(settings, reason, error.to_string(), error.retry_after())
        .await
}
