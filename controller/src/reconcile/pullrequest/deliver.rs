//! The PullRequest's delivery: the head branch (lease pushes) and the forge (find, update or
//! open the pull request; after a merge, start again from the new base).

use std::time::{Duration, Instant};

use gco_api::{PullRequest, PullRequestState, RunResult};
use jiff::Timestamp;
use kube::runtime::controller::Action;
use tracing::{info, warn};

use super::{body, head_branch, poll, title};
use crate::{
    announce::EventReason,
    forge::{Forge, ForgeError, Proposal, Proposed},
    git::{self, Credentials, GitError},
    reconcile::{
        Failure, Outcome, conclude::Delivered, driver::Reconcile, handoff::short_sha,
        plan::Delivery,
    },
};

type PrReconcile<'a, 'b> = &'a mut Reconcile<'b, PullRequest>;

/// How long a deleted head branch is left alone before it is created again.
const BRANCH_SETTLE: Duration = Duration::from_secs(5);

/// Pushes the run's change to the head branch and keeps its one pull request open.
pub async fn deliver(r: PrReconcile<'_, '_>, d: &Delivery, credentials: &Credentials) -> Outcome {
    match try_deliver(r, d, credentials).await {
        Ok(outcome) => outcome,
        Err(failure) => Outcome::Failed(failure),
    }
}

async fn try_deliver(
    r: PrReconcile<'_, '_>,
    d: &Delivery,
    credentials: &Credentials,
) -> Result<Outcome, Failure> {
    let spec = &r.object.spec;
    let head = head_branch(spec, &r.owner.namespace, &r.owner.name);
    let base = spec.repository.base_branch().to_owned();
    let (title, body) = (title(spec, d.at)?, body(spec, d.at)?);
    let forge = forge_for(r, credentials)?;

    if follow_known(r, &forge, &head).await? == Followed::Settling {
        // Forges close the pull requests of a deleted branch asynchronously (Gitea queues
        // it): a pull request opened at once on the re-created branch could be closed by
        // that. Push and open on the next pass instead.
        return Ok(Outcome::Noted {
            then: Action::requeue(BRANCH_SETTLE),
        });
    }
    let expected = if r.status.head_branch.as_deref() == Some(head.as_str()) {
        r.status.head_sha.clone()
    } else {
        None
    };
    let pushed = push(r, d, credentials, &base, &head, expected).await?;
    r.status.head_branch = Some(head.clone());
    let then = poll(d.next_tick, r.now);
    let Some(sha) = pushed.commit().map(str::to_owned) else {
        // No head branch and nothing that differs from the base: no pull request.
        r.status.head_sha = None;
        return Ok(Outcome::Delivered(Delivered {
            result: RunResult::NoChanges,
            commit: None,
            message: format!("no changes against {base}: no pull request is needed"),
            event: EventReason::NoChanges,
            revision: None,
            then,
        }));
    };
    r.status.head_sha = Some(sha.clone());
    let pushed = !matches!(pushed, git::Outcome::NoChanges { .. });

    let proposal = Proposal {
        head: head.clone(),
        base,
        title,
        body,
    };
    let (pr, proposed) = forge.open_or_update(&proposal, pushed).await?;
    r.status.pull_request_number = Some(pr.number);
    r.status.pull_request_url = Some(pr.url.clone());
    r.status.pull_request_state = Some(pr.state);

    let short = short_sha(&sha);
    let (number, url) = (pr.number, &pr.url);
    let (event, message) = match proposed {
        Proposed::Opened => (
            EventReason::PullRequestOpened,
            format!("opened pull request #{number} {url} from {head} at {short}"),
        ),
        Proposed::Updated => (
            EventReason::PullRequestUpdated,
            format!("updated pull request #{number} {url} ({head} at {short})"),
        ),
        Proposed::Unchanged => (
            EventReason::NoChanges,
            format!("no changes: pull request #{number} {url} is up to date ({head} at {short})"),
        ),
    };
    Ok(Outcome::Delivered(Delivered {
        result: if pushed {
            RunResult::Committed
        } else {
            RunResult::NoChanges
        },
        revision: Some(format!("{head}@sha1:{sha}")),
        commit: Some(sha),
        message,
        event,
        then,
    }))
}

/// The forge client for the spec's repository, authenticated with the Secret's API token.
pub(super) fn forge_for(
    r: &Reconcile<'_, PullRequest>,
    credentials: &Credentials,
) -> Result<Forge, Failure> {
    let forge = Forge::for_repository(&r.object.spec.repository, credentials.api_token())?;
    Ok(forge.counted(r.ctx.metrics.forge_requests.clone()))
}

/// What [`follow_known`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    r: PrReconcile<'_, '_>,
    forge: &Forge,
    head: &str,
) -> Result<Followed, ForgeError> {
    let Some(number) = r.status.pull_request_number else {
        return Ok(Followed::Ready);
    };
    if r.status.head_branch.as_deref() != Some(head) {
        // The head branch was renamed in the spec: the old pull request is not ours to follow.
        forget(r, None);
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
            forget(r, Some(state));
            Ok(Followed::Ready)
        }
        PullRequestState::Merged => {
            forget(r, Some(state));
            let tip = forge.branch_tip(head).await?;
            if tip.is_none() {
                r.status.head_sha = None;
                return Ok(Followed::Ready);
            }
            if tip != r.status.head_sha {
                // Someone pushed after the merge: the lease reports HeadBranchDiverged.
                return Ok(Followed::Ready);
            }
            forge.delete_branch(head).await?;
            r.status.head_sha = None;
            Ok(Followed::Settling)
        }
    }
}

fn forget(r: PrReconcile<'_, '_>, state: Option<PullRequestState>) {
    r.status.pull_request_number = None;
    r.status.pull_request_url = None;
    r.status.pull_request_state = state;
}

/// Commits to the head branch with a lease on `expected`. A head that moved is adopted only
/// when its tip is this very run's commit (a crash between push and status write).
async fn push(
    r: PrReconcile<'_, '_>,
    d: &Delivery,
    credentials: &Credentials,
    base: &str,
    head: &str,
    expected: Option<String>,
) -> Result<git::Outcome, GitError> {
    let (engine, url) = (&r.ctx.engine, r.object.spec.repository.url.as_str());
    let started = Instant::now();
    let commit = |expected: Option<String>| async move {
        engine
            .commit_head_branch(
                url,
                base,
                head,
                expected.as_deref(),
                credentials,
                d.change.clone(),
            )
            .await
    };
    let mut pushed = commit(expected).await;
    if let Err(GitError::HeadBranchDiverged { found, .. }) = &pushed
        && let Ok(Some(ours)) = engine
            .find_object_run(url, head, credentials, &d.change.object, &d.run_id, d.at)
            .await
        && &ours == found
    {
        pushed = commit(Some(ours)).await;
    }
    r.ctx
        .metrics
        .record_git("head-branch", started.elapsed(), &pushed);
    pushed
}

/// Nothing to deliver (same inputs as the finished run): notice a merge or close of the
/// pull request, so the status says so before the next change.
pub async fn refresh(r: PrReconcile<'_, '_>, next_tick: Option<Timestamp>) -> Outcome {
    let then = poll(next_tick, r.now);
    let (Some(number), Some(PullRequestState::Open)) =
        (r.status.pull_request_number, r.status.pull_request_state)
    else {
        return Outcome::Idle { then };
    };
    let state = match r.credentials().await {
        Ok(credentials) => match forge_for(r, &credentials) {
            Ok(forge) => forge.get(number).await.map_err(Failure::from),
            Err(failure) => Err(failure),
        },
        Err(failure) => Err(failure),
    };
    match state {
        Ok(pr) if pr.state != PullRequestState::Open => {
            info!(namespace = %r.owner.namespace, name = %r.owner.name, pull_request = %pr.url, state = ?pr.state, "pull request is no longer open");
            r.status.pull_request_state = Some(pr.state);
            Outcome::Noted { then }
        }
        Ok(_) => Outcome::Idle { then },
        Err(failure) => {
            warn!(namespace = %r.owner.namespace, name = %r.owner.name, error = %failure.message, "cannot look at the pull request");
            Outcome::Idle { then }
        }
    }
}
