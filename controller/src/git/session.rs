//! One batch against one repository, start to finish, on a blocking thread: fetch, build,
//! push, and on a lost race fetch and build again.

use std::{sync::PoisonError, thread, time::Duration};

use git2::Oid;

use super::{
    Credentials, GitError, RepoCache,
    batch::{self, Planned},
    change::{Change, Outcome},
    history::{self, RUN_WALK_LIMIT, Wanted},
    remote::{PushFailure, Remote},
    staging::Staging,
    url::RepoUrl,
};

/// Attempts at pushing one batch before giving up on a branch that keeps moving.
pub const MAX_PUSH_ATTEMPTS: u32 = 10;
/// First back-off after a lost race; doubles each time, with jitter, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The depths a shallow history is deepened to, in turn, while a search for runs reaches its
/// edge before their instant: four times the last each time, so a deep search costs a few
/// fetches, not one per commit; the last goes past [`RUN_WALK_LIMIT`], where the search
/// stops anyway.
const DEEPEN_STEPS: [i32; 4] = [256, 1024, 4096, RUN_WALK_LIMIT as i32 + 64];

/// Runs `work` against the cached repository of `url`, holding the lock of `branches[0]`
/// (the branch it writes) throughout, once every branch in `branches` is known to be valid
/// and `credentials` fit the URL. Other branches of the repository are only fetched.
///
/// A closure rather than a returned guard: the lock guard borrows the cached repository, so
/// the two cannot travel together out of a function without a self-referential struct.
pub(crate) fn with_remote<T>(
    cache: &RepoCache,
    url: &RepoUrl,
    credentials: &Credentials,
    branches: &[&str],
    work: impl FnOnce(&Remote<'_>) -> Result<T, GitError>,
) -> Result<T, GitError> {
    for branch in branches {
        check_branch(branch)?;
    }
    credentials.check_for(url)?;
    let locked = branches.first().copied().unwrap_or("HEAD");
    let cached = cache.open(url, locked)?;
    let result = {
        let _guard = cached.lock_branch();
        work(&Remote {
            repo: &cached.repo,
            url,
            credentials,
            fetch_lock: cached.fetch_lock(),
        })
    };
    let path = cached.path().to_owned();
    // Released first: the bound never deletes a repository someone holds.
    drop(cached);
    cache.settle(&path);
    result
}

/// Commits `changes` to `branch` (never forcing) and reports what became of each.
pub(crate) fn commit_batch(
    cache: &RepoCache,
    url: &RepoUrl,
    credentials: &Credentials,
    branch: &str,
    changes: &[Change],
) -> Result<Vec<Result<Outcome, GitError>>, GitError> {
    with_remote(cache, url, credentials, &[branch], |remote| {
        push_batch(remote, branch, changes)
    })
}

fn push_batch(
    remote: &Remote<'_>,
    branch: &str,
    changes: &[Change],
) -> Result<Vec<Result<Outcome, GitError>>, GitError> {
    let repo = remote.repo;
    let odb = repo.odb().map_err(GitError::repository)?;
    let staging = Staging::new(repo, &odb)?;
    let local_ref = lane_ref(branch);
    // The first attempt builds on the tip this cache last saw and lets the push's ref
    // advertisement confirm it: one round trip less than fetch-then-push when nobody else
    // pushed, which is the common case.
    let mut cached_tip = tracking_tip(repo, branch);
    let wanted: Vec<Wanted> = changes.iter().map(Wanted::of).collect();
    for attempt in 0..MAX_PUSH_ATTEMPTS {
        staging.discard()?;
        let (tip, verified) = match cached_tip.take() {
            Some(tip) => (Some(tip), false),
            None => (remote.fetch_tip(branch)?, true),
        };
        // A branch that does not exist yet starts at the default branch's tip.
        let base = match tip {
            Some(tip) => Some(tip),
            None => remote.fetch_default_branch()?,
        };
        // A new branch's runs are looked for on the default branch it starts from.
        let applied = find_runs(remote, tip.map(|_| branch), base, &wanted)?;
        let built = batch::build(repo, base, changes, &applied)?;
        let Some(new_tip) = built.new_tip else {
            if verified {
                return Ok(outcomes(built.planned, tip));
            }
            // "No changes" against a cached tip proves nothing: check the real one.
            continue;
        };
        staging.keep(new_tip, base)?;
        set_ref(repo, &local_ref, new_tip)?;
        match remote.push(&local_ref, branch, tip) {
            Ok(()) => {
                // Later runs fetch from here without downloading what we just made. A fetch of
                // this branch as another branch's base writes the same ref: under its lock.
                let _fetching = remote
                    .fetch_lock
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                set_ref(repo, &Remote::tracking_ref(branch), new_tip)?;
                return Ok(outcomes(built.planned, Some(new_tip)));
            }
            Err(PushFailure::Moved(reason)) => {
                tracing::debug!(url = %remote.url.redacted(), %branch, attempt, %reason, "branch moved; fetching and applying again");
                if verified {
                    thread::sleep(backoff(attempt));
                }
            }
            Err(PushFailure::Failed(error)) => return Err(error),
        }
    }
    Err(GitError::RetriesExhausted {
        branch: branch.to_owned(),
        attempts: MAX_PUSH_ATTEMPTS,
    })
}

/// Commits `change` to a pull request's head branch under a lease: only if the remote head
/// is absent or still `expected_head` (what the operator last pushed). A new head branch
/// starts at the base branch's tip.
pub(crate) fn commit_head_branch(
    cache: &RepoCache,
    url: &RepoUrl,
    credentials: &Credentials,
    base: &str,
    head: &str,
    expected_head: Option<&str>,
    change: &Change,
) -> Result<Outcome, GitError> {
    with_remote(cache, url, credentials, &[head, base], |remote| {
        push_head_branch(remote, base, head, expected_head, change)
    })
}

fn push_head_branch(
    remote: &Remote<'_>,
    base: &str,
    head: &str,
    expected_head: Option<&str>,
    change: &Change,
) -> Result<Outcome, GitError> {
    let repo = remote.repo;
    let tips = remote.fetch(&[base, head])?;
    let (base_tip, head_tip) = (
        tips.first().copied().flatten(),
        tips.get(1).copied().flatten(),
    );
    let diverged = |found: Option<Oid>| GitError::HeadBranchDiverged {
        branch: head.to_owned(),
        expected: expected_head.unwrap_or("(absent)").to_owned(),
        found: found.map_or_else(|| "(absent)".to_owned(), |o| o.to_string()),
    };
    if let Some(found) = head_tip
        && expected_head != Some(found.to_string().as_str())
    {
        return Err(diverged(Some(found)));
    }
    let parent = head_tip.or(base_tip);
    let searched = if head_tip.is_some() { head } else { base };
    let applied = find_runs(remote, Some(searched), parent, &[Wanted::of(change)])?;
    let odb = repo.odb().map_err(GitError::repository)?;
    let staging = Staging::new(repo, &odb)?;
    let built = batch::build(repo, parent, std::slice::from_ref(change), &applied)?;
    let planned = built
        .planned
        .into_iter()
        .next()
        .unwrap_or(Planned::NoChanges);
    let Some(new_tip) = built.new_tip else {
        // Nothing new; a head branch that does not exist yet is not created for nothing.
        return single(planned, head_tip);
    };
    staging.keep(new_tip, parent)?;
    let local_ref = lane_ref(head);
    set_ref(repo, &local_ref, new_tip)?;
    match remote.push(&local_ref, head, head_tip) {
        Ok(()) => {
            let _fetching = remote
                .fetch_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            set_ref(repo, &Remote::tracking_ref(head), new_tip)?;
            single(planned, Some(new_tip))
        }
        // Someone pushed between our fetch and our push: the lease is broken.
        Err(PushFailure::Moved(_)) => {
            let found = remote.fetch_tip(head).ok().flatten();
            Err(diverged(found))
        }
        Err(PushFailure::Failed(error)) => Err(error),
    }
}

/// The newest commit on `branch` carrying the run `wanted`, if any (see [`find_runs`]).
pub(crate) fn find_run_on_branch(
    cache: &RepoCache,
    url: &RepoUrl,
    credentials: &Credentials,
    branch: &str,
    wanted: Wanted,
) -> Result<Option<String>, GitError> {
    with_remote(cache, url, credentials, &[branch], |remote| {
        let tip = remote.fetch_tip(branch)?;
        let found = find_runs(remote, Some(branch), tip, std::slice::from_ref(&wanted))?;
        Ok(found.into_iter().flatten().next().map(|o| o.to_string()))
    })
}

/// For each of `wanted`, the commit reachable from `tip` that carries its run
/// ([`history::find_runs`]), deepening a shallow history of `branch` (`None`: the default
/// branch) step by step while the search reaches its edge before the runs' instant. Without
/// the deepening, a run followed by more commits than the first fetch brought would be
/// missed and committed twice.
fn find_runs(
    remote: &Remote<'_>,
    branch: Option<&str>,
    tip: Option<Oid>,
    wanted: &[Wanted],
) -> Result<Vec<Option<Oid>>, GitError> {
    let Some(tip) = tip else {
        return Ok(vec![None; wanted.len()]);
    };
    let mut steps = DEEPEN_STEPS.iter();
    loop {
        let lookback = history::find_runs(remote.repo, tip, wanted)?;
        if !lookback.cut_short || !remote.url.supports_shallow() {
            return Ok(lookback.found);
        }
        let Some(&depth) = steps.next() else {
            let url = remote.url.redacted();
            tracing::warn!(%url, "deepened as far as it goes, short of the run's instant: the run counts as not on the branch");
            return Ok(lookback.found);
        };
        let url = remote.url.redacted();
        tracing::debug!(%url, depth, "deepening a shallow history to look for a run");
        remote.deepen(branch, depth)?;
    }
}

/// Refuses branch names git would refuse, and so anything that could smuggle a second
/// refspec (`:`, `*`, a leading `+`) into a fetch or push.
pub(crate) fn check_branch(branch: &str) -> Result<(), GitError> {
    let valid = !branch.starts_with(['+', '-'])
        && git2::Reference::is_valid_name(&format!("refs/heads/{branch}"));
    if valid {
        Ok(())
    } else {
        Err(GitError::InvalidBranch {
            branch: branch.chars().take(256).collect(),
            reason: "write a name like `main` or `backups/production` (no spaces, `:`, `*`, `~`, `^`, `?`, `[`, `..` or `\\`)".into(),
        })
    }
}

fn single(planned: Planned, tip: Option<Oid>) -> Result<Outcome, GitError> {
    outcomes(vec![planned], tip)
        .into_iter()
        .next()
        .unwrap_or(Err(GitError::Cancelled))
}

fn outcomes(planned: Vec<Planned>, tip: Option<Oid>) -> Vec<Result<Outcome, GitError>> {
    planned
        .into_iter()
        .map(|p| match p {
            Planned::InCommit(commit) => Ok(Outcome::Committed {
                commit: commit.to_string(),
            }),
            Planned::AlreadyApplied(commit) => Ok(Outcome::AlreadyApplied {
                commit: commit.to_string(),
            }),
            Planned::NoChanges => Ok(Outcome::NoChanges {
                tip: tip.map(|t| t.to_string()),
            }),
            Planned::Failed(error) => Err(error),
        })
        .collect()
}

/// The branch tip this cache last fetched or pushed, if any.
fn tracking_tip(repo: &git2::Repository, branch: &str) -> Option<Oid> {
    repo.find_reference(&Remote::tracking_ref(branch))
        .ok()
        .and_then(|r| r.target())
}

/// The private ref a batch's commit is pushed from (libgit2 pushes refs, not object ids).
fn lane_ref(branch: &str) -> String {
    format!("refs/gco/lanes/{branch}")
}

fn set_ref(repo: &git2::Repository, name: &str, target: Oid) -> Result<(), GitError> {
    repo.reference(name, target, true, "git-change-operator")
        .map(drop)
        .map_err(GitError::repository)
}

fn backoff(attempt: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1 << attempt.min(10))
        .min(MAX_BACKOFF);
    // Jitter from the clock's nanoseconds: enough to de-synchronise competing writers.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + Duration::from_nanos(u64::from(nanos) % (base.as_nanos() as u64).max(1))
}
