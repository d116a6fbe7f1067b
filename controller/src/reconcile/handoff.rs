//! Runs handed to a push lane. A GitCommit's reconcile records its run, hands the change to
//! the branch's lane and returns: the worker is free at once, so a lane coalesces the changes
//! of however many objects are waiting, not only of the reconciles in flight. The lane's
//! outcome wakes the object, and its next reconcile concludes the run with that outcome
//! through the one exit, `Reconcile::conclude`.
//!
//! Nothing here outlives the process, and nothing needs to: a run handed in is recorded in
//! status before its push (`Reconcile::begin`), so after a restart the next reconcile hands
//! it in again and the engine finds its commit by the run's trailer.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use gco_api::{RunResult, RunState};
use jiff::Timestamp;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::mpsc::UnboundedSender;

use super::plan::Written;
use super::{
    Outcome,
    conclude::Delivered,
    plan::{Admitted, Delivery, requeue_at},
};
use crate::{
    announce::EventReason,
    git::{self, GitError, RunId},
    references::Owner,
};

/// The runs handed to a push lane and not yet concluded, one per object at most.
pub struct Handoffs {
    runs: Mutex<HashMap<Owner, HandedIn>>,
    /// Wakes an object whose push came back; its next reconcile concludes the run.
    wake: UnboundedSender<Owner>,
    /// How many runs are handed in and not yet concluded.
    gauge: Gauge,
}

/// A run handed in, with what its conclusion needs from the reconcile that planned it.
#[derive(Debug)]
pub struct HandedIn {
    /// The object it belongs to: a new object of the same name never concludes it.
    pub uid: String,
    pub run: RunId,
    /// The run as `Reconcile::begin` recorded it, restored at the conclusion in case the
    /// cache the concluding reconcile reads has not seen that write yet.
    pub recorded: RunState,
    /// The generation the run was planned for.
    pub generation: i64,
    pub admitted: Admitted,
    /// What the run skipped.
    pub skipped: Vec<String>,
    /// With prune: the files the run leaves written.
    pub written: Written,
    pub branch: String,
    /// When the reconcile that handed the run in began.
    pub started: Instant,
    /// The lane's answer; `None` while the push is under way.
    pushed: Option<Pushed>,
}

impl HandedIn {
    /// `delivery`, about to be handed in, with no answer yet.
    pub fn new(
        uid: String,
        recorded: RunState,
        generation: i64,
        admitted: Admitted,
        delivery: &Delivery,
        branch: String,
    ) -> Self {
        Self {
            uid,
            run: delivery.run_id.clone(),
            recorded,
            generation,
            admitted,
            skipped: delivery.skipped.clone(),
            written: delivery.written.clone(),
            branch,
            started: Instant::now(),
            pushed: None,
        }
    }
}

/// A lane's answer and how long it took, queue included.
#[derive(Debug)]
pub struct Pushed {
    pub result: Result<git::Outcome, GitError>,
    pub elapsed: Duration,
}

/// What [`Handoffs::claim`] found for an object.
#[derive(Debug)]
pub enum Claim {
    /// Nothing handed in: reconcile as usual.
    Free,
    /// Its push is under way: the lane's answer wakes it.
    Waiting,
    /// Its push came back: conclude the run.
    Pushed(Box<HandedIn>, Pushed),
}

impl Handoffs {
    pub fn new(wake: UnboundedSender<Owner>, gauge: Gauge) -> Self {
        Self {
            runs: Mutex::default(),
            wake,
            gauge,
        }
    }

    fn runs(&self) -> MutexGuard<'_, HashMap<Owner, HandedIn>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `handed` for `owner`; the returned answer, given to the push lane with the
    /// run's change, stores the lane's outcome and wakes the object.
    pub fn hand_in(self: &Arc<Self>, owner: Owner, handed: HandedIn) -> git::Answer {
        let (uid, run) = (handed.uid.clone(), handed.run.clone());
        {
            let mut runs = self.runs();
            runs.insert(owner.clone(), handed);
            self.gauge.set(runs.len() as i64);
        }
        let started = Instant::now();
        let handoffs = Arc::clone(self);
        git::Answer::new(move |result| {
            let elapsed = started.elapsed();
            handoffs.answer(&owner, &uid, &run, Pushed { result, elapsed });
            let _ = handoffs.wake.send(owner);
        })
    }

    /// Stores a push's answer for its run, if that run of that object (not a later object of
    /// the same name) still waits for it.
    fn answer(&self, owner: &Owner, uid: &str, run: &RunId, pushed: Pushed) {
        let mut runs = self.runs();
        if let Some(handed) = runs.get_mut(owner)
            && handed.uid == uid
            && handed.run == *run
        {
            handed.pushed = Some(pushed);
        }
    }

    /// What is handed in for the object `owner` with `uid`. A finished push is taken out:
    /// the caller concludes it. A run of an older object of the same name is dropped.
    pub fn claim(&self, owner: &Owner, uid: &str) -> Claim {
        let mut runs = self.runs();
        let claim = match runs.get_mut(owner) {
            None => Claim::Free,
            Some(handed) if handed.uid != uid => {
                runs.remove(owner);
                Claim::Free
            }
            Some(handed) => match handed.pushed.take() {
                None => Claim::Waiting,
                Some(pushed) => runs.remove(owner).map_or(Claim::Free, |handed| {
                    Claim::Pushed(Box::new(handed), pushed)
                }),
            },
        };
        self.gauge.set(runs.len() as i64);
        claim
    }

    /// Forgets a deleted object's run: its push's answer, when it comes, is dropped.
    pub fn forget(&self, owner: &Owner) {
        let mut runs = self.runs();
        runs.remove(owner);
        self.gauge.set(runs.len() as i64);
    }
}

/// The outcome of a GitCommit's run from its lane's answer: what the status and the events
/// say, and when to look again.
pub fn outcome_of(
    result: Result<git::Outcome, GitError>,
    branch: &str,
    next_tick: Option<Timestamp>,
    now: Timestamp,
) -> Outcome {
    let pushed = match result {
        Ok(pushed) => pushed,
        Err(error) => return Outcome::Failed(error.into()),
    };
    let commit = pushed.commit().map(str::to_owned);
    let short = commit.as_deref().map_or("(none)", short_sha);
    let (event, result, message) = match &pushed {
        git::Outcome::Committed { .. } => (
            EventReason::CommitPushed,
            RunResult::Committed,
            format!("committed {short} to {branch}"),
        ),
        git::Outcome::AlreadyApplied { .. } => (
            EventReason::CommitPushed,
            RunResult::Committed,
            format!("committed {short} to {branch} (found on the branch after a restart)"),
        ),
        git::Outcome::NoChanges { .. } => (
            EventReason::NoChanges,
            RunResult::NoChanges,
            format!("no changes: {branch} already holds the rendered files"),
        ),
    };
    Outcome::Delivered(Delivered {
        result,
        revision: commit.as_ref().map(|sha| format!("{branch}@sha1:{sha}")),
        commit,
        message,
        event,
        then: requeue_at(next_tick, now),
    })
}

/// The first 12 hex digits of a commit, as people quote them.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
