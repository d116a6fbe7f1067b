//! Prometheus metrics of the controller (prometheus-client, text exposition format).

use std::sync::Arc;

use crate::{forge::ForgeRequests, git::LaneMetrics};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: String,
}

/// One GitCommit or PullRequest, for alerts on a single export (as Flux's
/// `gotk_resource_info`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

/// Every metric the controller exports. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub reconcile_duration: Family<KindLabels, Histogram>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub git_operation_duration: Family<OperationLabels, Histogram>,
    pub pushes: Family<ResultLabels, Counter>,
    pub referenced_objects: Gauge,
    /// 1 while an object is Ready, 0 otherwise.
    pub object_ready: Family<ObjectLabels, Gauge>,
    /// When an object's last run succeeded, in Unix seconds.
    pub object_last_success: Family<ObjectLabels, Gauge>,
    /// The push lanes' queue and batch sizes.
    pub lanes: LaneMetrics,
    /// GitCommit runs handed to a push lane whose outcome has not concluded them yet.
    pub runs_handed_in: Gauge,
    /// Requests sent to forges' APIs.
    pub forge_requests: ForgeRequests,
}

fn seconds_histogram() -> Histogram {
    Histogram::new([
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gco");
        let reconcile_duration =
            Family::<KindLabels, Histogram>::new_with_constructor(seconds_histogram as fn() -> _);
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let git_operation_duration = Family::<OperationLabels, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> _,
        );
        let pushes = Family::<ResultLabels, Counter>::default();
        let referenced_objects = Gauge::default();
        let object_ready = Family::<ObjectLabels, Gauge>::default();
        let object_last_success = Family::<ObjectLabels, Gauge>::default();
        let lanes = LaneMetrics::default();
        let runs_handed_in = Gauge::default();
        let forge_requests = ForgeRequests::default();
        registry.register(
            "forge_requests",
            "Requests sent to forges' APIs (retries included), by provider and operation",
            forge_requests.clone(),
        );
        registry.register(
            "lane_queued_changes",
            "Changes handed to a branch's push lane and not yet pushed (the queue depth)",
            lanes.queued_changes.clone(),
        );
        registry.register(
            "lane_batch_changes",
            "Changes per push: how many objects' changes each batch carried",
            lanes.changes_per_batch.clone(),
        );
        registry.register(
            "runs_handed_in",
            "GitCommit runs waiting for their push lane's outcome",
            runs_handed_in.clone(),
        );
        registry.register(
            "object_ready",
            "1 while a GitCommit or PullRequest is Ready, 0 otherwise",
            object_ready.clone(),
        );
        registry.register(
            "object_last_success_timestamp_seconds",
            "When a GitCommit's or PullRequest's last run succeeded (Unix seconds)",
            object_last_success.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconciles, by kind",
            reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by kind and condition reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "git_operation_duration_seconds",
            "Duration of git operations (commit = fetch, build, push), by operation",
            git_operation_duration.clone(),
        );
        registry.register(
            "pushes",
            "Runs that reached the git engine, by result (committed, no-changes, already-applied, failed)",
            pushes.clone(),
        );
        registry.register(
            "referenced_objects",
            "Objects referenced (and so watched) by at least one GitCommit or PullRequest",
            referenced_objects.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconcile_duration,
            reconcile_errors,
            git_operation_duration,
            pushes,
            referenced_objects,
            object_ready,
            object_last_success,
            lanes,
            runs_handed_in,
            forge_requests,
        }
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

impl Metrics {
    /// Counts a run that reached the git engine: its duration under `operation`, and its
    /// result in `gco_pushes_total`.
    pub fn record_git(
        &self,
        operation: &str,
        elapsed: std::time::Duration,
        outcome: &Result<crate::git::Outcome, crate::git::GitError>,
    ) {
        self.git_operation_duration
            .get_or_create(&OperationLabels {
                operation: operation.into(),
            })
            .observe(elapsed.as_secs_f64());
        let result = match outcome {
            Ok(crate::git::Outcome::Committed { .. }) => "committed",
            Ok(crate::git::Outcome::NoChanges { .. }) => "no-changes",
            Ok(crate::git::Outcome::AlreadyApplied { .. }) => "already-applied",
            Err(_) => "failed",
        };
        self.pushes
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }
}

impl Metrics {
    /// Records an object's Ready state, and the instant of a success.
    pub fn record_object(&self, object: ObjectLabels, ready: bool, succeeded_at: Option<i64>) {
        self.object_ready
            .get_or_create(&object)
            .set(i64::from(ready));
        if let Some(at) = succeeded_at {
            self.object_last_success.get_or_create(&object).set(at);
        }
    }

    /// Forgets a deleted object's series.
    pub fn forget_object(&self, object: &ObjectLabels) {
        self.object_ready.remove(object);
        self.object_last_success.remove(object);
    }
}
