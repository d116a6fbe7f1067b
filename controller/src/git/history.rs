//! Commit messages with trailers, and finding runs' commits in a branch's recent history.
//!
//! Recent by time, not by count: a run's commit cannot be older than the run's instant
//! (recorded before its push, see "Exactly once" in docs/architecture.md), so the search
//! reads every commit from the tip down to that instant, however many others pushed since.

use std::collections::{BinaryHeap, HashSet};

use git2::{Commit, ErrorCode, Oid, Repository};
use jiff::{SignedDuration, Timestamp};

use super::{
    GitError,
    change::{Change, OBJECT_TRAILER, ObjectRef, RUN_TRAILER, RunId},
    trailers::run_pairs,
};

/// How much older than its run's instant a run's commit may be dated. The instant and the
/// commit time come from the same clock unless the controller failed over between the run's
/// first attempt and the attempt that pushed: then two nodes' clocks, which NTP keeps far
/// closer than this.
pub const RUN_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(10);

/// Most commits one search reads. A bound for safety only: more than this many commits
/// within minutes of a run's instant is no branch the operator can serve exactly once, and
/// the search then reports the run as absent (and says so in the log).
pub const RUN_WALK_LIMIT: usize = 10_000;

/// Commits older than the cut-off read before a search ends. A commit made by a clock running
/// behind can be dated before the cut-off and still sit above the run's commit; reading a few
/// past the first old one finds the run beneath such commits, for next to nothing.
const SLOP: usize = 32;

/// The message of a commit carrying `changes`: one change's message as is; several changes'
/// messages listed under a summary line. Then one `Gco-Object`/`Gco-Run` pair per change.
pub(crate) fn commit_message(changes: &[&Change]) -> String {
    let mut message = match changes {
        [single] => single.message.trim_end().to_owned(),
        many => {
            let mut seen = Vec::new();
            for change in many {
                let line = change.message.trim_end();
                if !seen.contains(&line) {
                    seen.push(line);
                }
            }
            let mut text = format!("Update {} objects from git-change-operator\n", many.len());
            for line in seen {
                text.push('\n');
                text.push_str(line);
            }
            text
        }
    };
    if message.is_empty() {
        message.push_str(gco_api::rules::DEFAULT_COMMIT_MESSAGE);
    }
    message.push_str("\n\n");
    for change in changes {
        message.push_str(&format!(
            "{OBJECT_TRAILER}: {}\n{RUN_TRAILER}: {}\n",
            change.object, change.run
        ));
    }
    message
}

/// A run to look for: the pair its commit's trailer block carries, and the oldest committer
/// time that commit can have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wanted {
    object: String,
    run: String,
    /// Seconds since the epoch: the run's instant less [`RUN_CLOCK_SKEW`].
    cutoff: i64,
}

impl Wanted {
    pub(crate) fn new(object: &ObjectRef, run: &RunId, at: Timestamp) -> Self {
        Wanted {
            object: object.to_string(),
            run: run.as_str().to_owned(),
            cutoff: at.as_second().saturating_sub(RUN_CLOCK_SKEW.as_secs()),
        }
    }

    /// The run `change` is for.
    pub(crate) fn of(change: &Change) -> Self {
        Self::new(&change.object, &change.run, change.at)
    }
}

/// What a search found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lookback {
    /// For each wanted run, in order: the newest commit carrying it, if any.
    pub found: Vec<Option<Oid>>,
    /// The local history has an edge (of a shallow clone) at a commit not older than the
    /// cut-off of a run still not found: a deeper history may hold it.
    pub cut_short: bool,
}

/// Why a walk ended.
#[derive(PartialEq)]
enum End {
    /// Every run was found.
    AllFound,
    /// [`SLOP`] commits older than every cut-off in a row.
    PastCutoff,
    /// [`RUN_WALK_LIMIT`] commits read.
    Limit,
    /// No commit left to read: the roots, or the edge of what was fetched.
    Exhausted,
}

/// Reads the history reachable from `tip`, newest committer time first, for the commits of
/// `wanted`: only a commit's trailer block counts (see `trailers.rs`), and only on a commit
/// not older than the run's cut-off. One walk serves a whole batch.
///
/// Its own walk rather than a libgit2 revwalk: a revwalk sorted by time reads all of history
/// before it yields the first commit, and it takes a shallow clone's edge for a root.
pub(crate) fn find_runs(
    repo: &Repository,
    tip: Oid,
    wanted: &[Wanted],
) -> Result<Lookback, GitError> {
    let mut found: Vec<Option<Oid>> = vec![None; wanted.len()];
    let mut queue = BinaryHeap::new();
    let mut seen = HashSet::new();
    // The newest commit whose parents were not fetched.
    let mut edge: Option<i64> = None;
    let mut enqueue = |oid: Oid, child_time: i64, queue: &mut BinaryHeap<(i64, Oid)>| {
        if !seen.insert(oid) {
            return Ok(());
        }
        match repo.find_commit(oid) {
            Ok(commit) => queue.push((commit.time().seconds(), oid)),
            Err(error) if error.code() == ErrorCode::NotFound => {
                edge = edge.max(Some(child_time));
            }
            Err(error) => return Err(GitError::repository(error)),
        }
        Ok(())
    };
    enqueue(tip, i64::MAX, &mut queue)?;
    let (mut walked, mut old) = (0, 0);
    let end = loop {
        let Some(cutoff) = oldest_cutoff(wanted, &found) else {
            break End::AllFound;
        };
        let Some((time, oid)) = queue.pop() else {
            break End::Exhausted;
        };
        if walked == RUN_WALK_LIMIT {
            break End::Limit;
        }
        walked += 1;
        old = if time < cutoff { old + 1 } else { 0 };
        if old > SLOP {
            break End::PastCutoff;
        }
        let commit = repo.find_commit(oid).map_err(GitError::repository)?;
        mark_found(&commit, time, wanted, &mut found);
        for parent in parents(&commit) {
            enqueue(parent, time, &mut queue)?;
        }
    };
    if end == End::Limit {
        tracing::warn!(
            limit = RUN_WALK_LIMIT,
            "the search for a run's commit read its limit of commits without reaching the run's instant; the run counts as not on the branch"
        );
    }
    // An edge above the cut-off hides history that may be newer than it, even when other
    // lines of history (a merge's) ran past the cut-off. Past the limit, nothing helps.
    let cut_short = end != End::Limit
        && oldest_cutoff(wanted, &found).is_some_and(|cutoff| edge.is_some_and(|e| e >= cutoff));
    Ok(Lookback { found, cut_short })
}

/// The earliest cut-off among the runs not found yet; `None` once all are.
fn oldest_cutoff(wanted: &[Wanted], found: &[Option<Oid>]) -> Option<i64> {
    wanted
        .iter()
        .zip(found)
        .filter(|(_, found)| found.is_none())
        .map(|(w, _)| w.cutoff)
        .min()
}

/// Records `commit` (committed at `time`) for every run it carries that is still wanted and
/// whose cut-off it is not older than.
fn mark_found(commit: &Commit<'_>, time: i64, wanted: &[Wanted], found: &mut [Option<Oid>]) {
    let message = String::from_utf8_lossy(commit.message_bytes());
    let pairs = run_pairs(&message);
    if pairs.is_empty() {
        return;
    }
    for (w, slot) in wanted.iter().zip(found.iter_mut()) {
        if slot.is_none()
            && time >= w.cutoff
            && pairs.contains(&(w.object.as_str(), w.run.as_str()))
        {
            *slot = Some(commit.id());
        }
    }
}

/// The parents `commit` names in its own header. Not [`Commit::parent_ids`]: libgit2 grafts
/// a shallow clone's edge into a root there, and keeps serving it as one from its object
/// cache even after a deeper fetch; this search needs to see that history goes on.
fn parents(commit: &Commit<'_>) -> Vec<Oid> {
    commit
        .raw_header_bytes()
        .split(|&b| b == b'\n')
        .take_while(|line| line.starts_with(b"tree ") || line.starts_with(b"parent "))
        .filter_map(|line| line.strip_prefix(b"parent "))
        .filter_map(|hex| std::str::from_utf8(hex).ok()?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests;
