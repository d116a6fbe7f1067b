//! [`PushLanes`]: a queue per (repository, branch). Work on a branch is serialised, and
//! changes that arrive while a push is in flight wait and go out together in the next one,
//! so a thousand objects on one branch make a handful of pushes instead of a thousand races.
//! A lane exists only while it has work: an idle branch costs no memory.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use prometheus_client::metrics::{gauge::Gauge, histogram::Histogram};
use tokio::sync::Semaphore;

use super::{
    Credentials, GitError, RepoCache,
    change::{Change, Outcome},
    session,
    url::RepoUrl,
};

/// Most changes in one batch: keeps a commit message readable and one failure's blast
/// radius small, and still gives far fewer than one push per ten objects.
pub const MAX_BATCH: usize = 100;

/// Who hears what became of a queued change: called once, with its outcome. A change dropped
/// unanswered (its driver gone with the runtime) hears [`GitError::Cancelled`], so no caller
/// waits forever.
///
/// A callback rather than a task awaiting a channel: with thousands of changes queued behind
/// a busy branch, a task per change was the largest part of the controller's heap
/// (docs/performance.md).
pub struct Answer(Option<Box<Hear>>);

/// What an [`Answer`] calls.
type Hear = dyn FnOnce(Result<Outcome, GitError>) + Send;

impl Answer {
    pub fn new(hear: impl FnOnce(Result<Outcome, GitError>) + Send + 'static) -> Self {
        Answer(Some(Box::new(hear)))
    }

    pub(crate) fn send(mut self, result: Result<Outcome, GitError>) {
        if let Some(hear) = self.0.take() {
            call(hear, result);
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(hear) = self.0.take() {
            call(hear, Err(GitError::Cancelled));
        }
    }
}

/// Calls `hear`, containing a panic: a lane's driver answers a whole batch and must go on to
/// its next one, and an answer dropped while unwinding must not panic a second time.
fn call(hear: Box<Hear>, result: Result<Outcome, GitError>) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hear(result))).is_err() {
        tracing::error!("a push outcome's receiver panicked; the lane goes on");
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Answer")
    }
}

/// A queued change. Its credentials are shared with the change queued before it when they
/// are the same, as they nearly always are on one branch: a key is held once, not once per
/// waiting change.
type Queued = (Arc<Credentials>, Change, Answer);
/// Pushes under way at once to one git host, across all its repositories and branches. More
/// would not go faster where the server or the network is the limit (forges ask clients to
/// serialise writes), and fewer, larger pushes cost every side less. Hosts do not share slots:
/// a slow or hostile server holds up only the pushes to it.
pub const PUSH_SLOTS: usize = 2;
/// How long a batch may hold its host's slot. libgit2 has no timeout this engine can set, so a
/// batch still running then goes on in the background, without the slot; its changes are
/// answered as failed (their retries find them by their run trailers if they landed), and the
/// lane waits for it before its next batch, so a branch still never has two pushes at once.
pub const PUSH_DEADLINE: Duration = Duration::from_secs(600);
/// A lane's key: the repository URL (as parsed, credentials included) and the branch.
type LaneKey = (String, String);

/// The lanes of every branch with work queued or a push in flight.
///
/// The invariant that keeps two pushes to one branch from ever running at once: **a lane is
/// in the map if and only if exactly one driver task is draining it.** It holds because every
/// change to the map happens under its one lock:
/// - [`PushLanes::queue`] queues onto the lane in the map, and spawns a driver only when it
///   inserts a new lane (there was none, so no driver was running);
/// - a driver removes its lane only in the same critical section in which it finds the queue
///   empty, and from then on never touches the repository again; a later submit therefore
///   finds no lane, creates one and spawns the one driver for it.
///
/// A queued change can never be stranded on a removed lane, because changes are only ever
/// queued onto the lane currently in the map, under the same lock.
pub(crate) struct PushLanes {
    cache: Arc<RepoCache>,
    lanes: Mutex<HashMap<LaneKey, VecDeque<Queued>>>,
    /// The push slots of each git host with a lane; dropped with the host's last lane.
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    metrics: LaneMetrics,
}

/// What the lanes tell the metrics endpoint.
#[derive(Clone, Debug)]
pub struct LaneMetrics {
    /// Changes handed to a lane and not yet answered: waiting, or in the push under way.
    pub queued_changes: Gauge,
    /// How many changes each batch carried.
    pub changes_per_batch: Histogram,
}

impl Default for LaneMetrics {
    fn default() -> Self {
        Self {
            queued_changes: Gauge::default(),
            changes_per_batch: Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, MAX_BATCH as f64]),
        }
    }
}

impl PushLanes {
    pub(crate) fn new(cache: Arc<RepoCache>, metrics: LaneMetrics) -> Self {
        PushLanes {
            cache,
            lanes: Mutex::new(HashMap::new()),
            slots: Mutex::default(),
            metrics,
        }
    }

    /// How many branches have work queued or a push in flight.
    pub(crate) fn active(&self) -> usize {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Queues `change` on `branch` of `url`; `answer` hears when the batch it joined has been
    /// pushed (or has failed). Outside a tokio runtime nothing could drive the lane: `answer`
    /// hears [`GitError::Cancelled`] at once.
    pub(crate) fn queue(
        self: &Arc<Self>,
        url: &RepoUrl,
        branch: &str,
        credentials: Credentials,
        change: Change,
        answer: Answer,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return answer.send(Err(GitError::Cancelled));
        };
        let key = (url.as_str().to_owned(), branch.to_owned());
        let start_driver = {
            let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
            // Counted under the lock, before any driver can take (and answer) the change.
            self.metrics.queued_changes.inc();
            match lanes.entry(key.clone()) {
                Entry::Occupied(mut lane) => {
                    let queue = lane.get_mut();
                    let credentials = match queue.back() {
                        Some((last, ..)) if **last == credentials => Arc::clone(last),
                        _ => Arc::new(credentials),
                    };
                    queue.push_back((credentials, change, answer));
                    false
                }
                Entry::Vacant(lane) => {
                    lane.insert(VecDeque::from([(Arc::new(credentials), change, answer)]));
                    true
                }
            }
        };
        if start_driver {
            runtime.spawn(Arc::clone(self).drive(key, url.clone(), branch.to_owned()));
        }
    }

    /// Drains one lane a batch at a time until it is empty, then removes it. A batch is
    /// taken only once a push slot is free: while lanes wait for one, their changes pile up
    /// and go out together, so a busy engine makes fewer, larger pushes.
    async fn drive(self: Arc<Self>, key: LaneKey, url: RepoUrl, branch: String) {
        let host = url.host().to_owned();
        let slots = self.slots_of(&host);
        loop {
            // The semaphore is never closed; a failed acquire could only mean shutdown.
            let Ok(slot) = slots.acquire().await else {
                break;
            };
            let Some((credentials, changes, answers)) = self.next_batch(&key) else {
                break;
            };
            self.metrics.changes_per_batch.observe(changes.len() as f64);
            let answered = answers.len() as i64;
            let (cache, batch_url, batch_branch) =
                (Arc::clone(&self.cache), url.clone(), branch.clone());
            let started = std::time::Instant::now();
            let mut batch = tokio::task::spawn_blocking(move || {
                session::commit_batch(&cache, &batch_url, &credentials, &batch_branch, &changes)
            });
            let result = match tokio::time::timeout(PUSH_DEADLINE, &mut batch).await {
                Ok(joined) => joined.unwrap_or(Err(GitError::Cancelled)),
                Err(_) => {
                    drop(slot);
                    Err(GitError::Network {
                        url: url.redacted(),
                        detail: format!(
                            "no answer within {}s; the push may still land, and the retry finds it",
                            PUSH_DEADLINE.as_secs()
                        ),
                    })
                }
            };
            tracing::debug!(
                %branch,
                changes = answered,
                pushed = result.is_ok(),
                duration_ms = started.elapsed().as_millis() as u64,
                "batch done"
            );
            let more = if batch.is_finished() {
                // The lane is removed, when nothing else is queued, before anyone hears back,
                // so a caller that sees its outcome with nothing else queued finds the lane gone.
                let more = self.keep_if_queued(&key);
                answer(answers, result);
                more
            } else {
                // Past its deadline the batch still holds the branch. Its callers hear now; the
                // lane, kept in the map meanwhile so that no second driver pushes to the branch,
                // waits for it before its next batch or its removal.
                answer(answers, result);
                let _ = batch.await;
                self.keep_if_queued(&key)
            };
            self.metrics.queued_changes.dec_by(answered);
            if !more {
                break;
            }
        }
        drop(slots);
        self.forget_idle_slots(&host);
    }

    /// The push slots of `host`, made for its first lane.
    fn slots_of(&self, host: &str) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(host.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(PUSH_SLOTS))),
        )
    }

    /// Drops `host`'s slots once no lane holds them.
    fn forget_idle_slots(&self, host: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if slots.get(host).is_some_and(|s| Arc::strong_count(s) == 1) {
            slots.remove(host);
        }
    }

    /// Whether the lane `key` has changes queued; when it has none, it is removed, which
    /// ends its driver.
    fn keep_if_queued(&self, key: &LaneKey) -> bool {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let queued = lanes.get(key).is_some_and(|queue| !queue.is_empty());
        if !queued {
            lanes.remove(key);
        }
        queued
    }

    /// The next batch of the lane `key`; `None`, with the lane removed, when its queue is
    /// empty, which also ends its driver.
    fn next_batch(&self, key: &LaneKey) -> Option<Batch> {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = lanes.get_mut(key).and_then(take_batch);
        if batch.is_none() {
            lanes.remove(key);
        }
        batch
    }
}

/// A batch taken from a lane: the credentials its changes share, the changes, and who hears
/// of each.
type Batch = (Arc<Credentials>, Vec<Change>, Vec<Answer>);

/// Tells each caller of a batch what became of its change.
fn answer(answers: Vec<Answer>, result: Result<Vec<Result<Outcome, GitError>>, GitError>) {
    match result {
        Ok(outcomes) => {
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                answer.send(outcome);
            }
        }
        Err(error) => {
            for answer in answers {
                answer.send(Err(error.clone()));
            }
        }
    }
}

/// The oldest change and every queued change with the same credentials (a change never
/// rides on another Secret's credentials), up to [`MAX_BATCH`]; `None` when `queue` is empty.
fn take_batch(queue: &mut VecDeque<Queued>) -> Option<Batch> {
    let (credentials, change, answer) = queue.pop_front()?;
    let (mut changes, mut answers) = (vec![change], vec![answer]);
    // Changes on other credentials keep their place at the head of the queue.
    let mut passed = Vec::new();
    while changes.len() < MAX_BATCH {
        let Some(item) = queue.pop_front() else {
            break;
        };
        if *item.0 == *credentials {
            changes.push(item.1);
            answers.push(item.2);
        } else {
            passed.push(item);
        }
    }
    for item in passed.into_iter().rev() {
        queue.push_front(item);
    }
    Some((credentials, changes, answers))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use jiff::Timestamp;

    use super::*;
    use crate::git::{
        change::Author,
        trailers::tests::{object, run},
    };

    fn queued(name: &str, credentials: &Arc<Credentials>, heard: &mpsc::Sender<String>) -> Queued {
        let change = Change {
            object: object(name),
            run: run(name),
            author: Author::operator(),
            message: name.into(),
            writes: Vec::new(),
            signing: None,
            at: Timestamp::now(),
            recover: None,
        };
        let (heard, name) = (heard.clone(), name.to_owned());
        let answer = Answer::new(move |outcome| {
            let _ = heard.send(format!("{name}: {}", outcome.is_ok()));
        });
        (Arc::clone(credentials), change, answer)
    }

    #[test]
    fn a_batch_takes_the_changes_on_the_oldest_changes_credentials_and_leaves_the_rest_in_order() {
        let (heard, _) = mpsc::channel();
        let alice = Arc::new(Credentials::anonymous().with_token("alice"));
        let bob = Arc::new(Credentials::anonymous().with_token("bob"));
        let mut queue = VecDeque::from([
            queued("a1", &alice, &heard),
            queued("b1", &bob, &heard),
            queued("a2", &alice, &heard),
            queued("b2", &bob, &heard),
        ]);
        let (credentials, changes, answers) = take_batch(&mut queue).expect("a batch");
        assert_eq!(*credentials, *alice);
        let names: Vec<_> = changes.iter().map(|c| c.message.as_str()).collect();
        assert_eq!(names, ["a1", "a2"]);
        assert_eq!(answers.len(), 2);
        let left: Vec<_> = queue.iter().map(|q| q.1.message.as_str()).collect();
        assert_eq!(left, ["b1", "b2"]);
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_changes() {
        let (heard, _) = mpsc::channel();
        let anyone = Arc::new(Credentials::anonymous());
        let mut queue: VecDeque<_> = (0..MAX_BATCH + 5)
            .map(|i| queued(&format!("c{i}"), &anyone, &heard))
            .collect();
        let (_, changes, _) = take_batch(&mut queue).expect("a batch");
        assert_eq!(changes.len(), MAX_BATCH);
        assert_eq!(queue.len(), 5);
        assert_eq!(queue[0].1.message, format!("c{MAX_BATCH}"));
        assert!(take_batch(&mut VecDeque::new()).is_none());
    }

    #[test]
    fn an_answer_is_heard_once_and_a_dropped_one_hears_cancelled() {
        let (heard, hear) = mpsc::channel();
        let anyone = Arc::new(Credentials::anonymous());
        let (_, _, sent) = queued("sent", &anyone, &heard);
        sent.send(Ok(Outcome::NoChanges { tip: None }));
        let (_, _, dropped) = queued("dropped", &anyone, &heard);
        drop(dropped);
        let (tell, cancelled) = std::sync::mpsc::channel();
        drop(Answer::new(move |outcome| {
            let _ = tell.send(matches!(outcome, Err(GitError::Cancelled)));
        }));
        assert_eq!(
            hear.try_iter().collect::<Vec<_>>(),
            ["sent: true", "dropped: false"]
        );
        assert_eq!(cancelled.try_iter().collect::<Vec<_>>(), [true]);
        // A receiver that panics does not take the lane's driver with it.
        Answer::new(|_| panic!("receiver")).send(Ok(Outcome::NoChanges { tip: None }));
        drop(Answer::new(|_| panic!("receiver")));
    }
}
