//! GitCommit: deliver a planned change as a commit on the spec's branch.
//!
//! The change is handed to the branch's push lane and coalesced with whatever else is queued
//! there; the lane's answer concludes the run (`handoff.rs`). A run interrupted after its push
//! is found on the branch by its `Gco-Run` trailer instead of being committed again.

use std::time::Duration;

use gco_api::{
    CommitSpec, ExportKind, ExportSpec, ExportStatus, GitCommit, Phase,
    rules::{DEFAULT_COMMIT_MESSAGE, Defaults, ExportRequest},
};
use jiff::Timestamp;

use super::{
    Delivering, Exporter, Failure, Outcome,
    driver::Reconcile,
    failure::FailureReason,
    finalize::Cleanup,
    plan::{Delivery, requeue_at},
    prune,
};
use crate::git::{Author, Change, Credentials, ObjectRef, RunId};

impl Exporter for GitCommit {
    const KIND: ExportKind = ExportKind::GitCommit;
    const DONE: Phase = Phase::Committed;
    const IDEMPOTENT_DELIVERY: bool = true;
    type Status = ExportStatus;

    fn export(&self) -> &ExportSpec {
        &self.spec.export
    }
    fn auth_secret(&self) -> Option<&str> {
        self.spec.auth.as_ref().map(|a| a.secret_name.as_str())
    }
    fn commit_spec(&self) -> Option<&CommitSpec> {
        self.spec.commit.as_ref()
    }
    fn default_message(&self, _at: Timestamp) -> Result<String, Failure> {
        Ok(DEFAULT_COMMIT_MESSAGE.to_owned())
    }
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a> {
        ExportRequest::git_commit(namespace, &self.spec).named_if(self.metadata.name.as_deref())
    }
    fn fill_defaults(&mut self, defaults: &Defaults) {
        defaults.fill_git_commit(&mut self.spec);
    }
    fn destination(&self) -> (&str, String) {
        let repository = &self.spec.repository;
        (&repository.url, repository.branch().to_owned())
    }
    fn current_status(&self) -> ExportStatus {
        self.status.clone().unwrap_or_default()
    }
    fn prunes(&self) -> bool {
        self.spec.prune
    }
    fn time_to_live(&self) -> Option<Duration> {
        self.spec
            .ttl_seconds_after_finished
            .map(|seconds| Duration::from_secs(seconds.into()))
    }

    async fn deliver(
        reconcile: &mut Reconcile<'_, Self>,
        _delivery: &Delivery,
        _credentials: &Credentials,
    ) -> Delivering {
        let repository = &reconcile.object.spec.repository;
        Delivering::ToLane {
            url: repository.url.clone(),
            branch: repository.branch().to_owned(),
        }
    }

    fn cleans_up(&self) -> bool {
        self.spec.prune
    }

    fn leftovers(&self) -> String {
        let files = self
            .status
            .as_ref()
            .and_then(|s| s.inventory.as_ref())
            .map_or(0, |inventory| inventory.files.len());
        let repository = &self.spec.repository;
        let plural = if files == 1 { "" } else { "s" };
        format!(
            "{files} file{plural} on branch {} of {}",
            repository.branch(),
            gco_api::redact_url(&repository.url)
        )
    }

    async fn clean_up(reconcile: &mut Reconcile<'_, Self>) -> Cleanup {
        remove_files(reconcile).await
    }

    async fn look_around(
        reconcile: &mut Reconcile<'_, Self>,
        next_tick: Option<Timestamp>,
    ) -> Outcome {
        Outcome::Idle {
            then: requeue_at(next_tick, reconcile.now),
        }
    }
}

/// A deleted pruning GitCommit's cleanup: one last commit deletes every file of its inventory
/// (those within the policies' prefixes; a file already gone is no change).
async fn remove_files(r: &mut Reconcile<'_, GitCommit>) -> Cleanup {
    let Some(inventory) = r.status.inventory.clone().filter(|i| !i.files.is_empty()) else {
        return Cleanup::Done("no files were written: nothing to delete".to_owned());
    };
    let repository = &r.object.spec.repository;
    if inventory.repository != repository.url || inventory.branch != repository.branch() {
        // Never deleted where they were not written; the credentials are for the spec's.
        return Cleanup::Done(format!(
            "kept the {} files on branch {} of {}: the spec names another branch now",
            inventory.files.len(),
            inventory.branch,
            gco_api::redact_url(&inventory.repository)
        ));
    }
    let Ok(scope) = r.ctx.policies.scope(&r.owner.namespace) else {
        return Cleanup::Retry(Failure::new(
            FailureReason::ProgressingWithRetry,
            "the policies are not read yet",
        ));
    };
    let writes = prune::remove_all(&inventory, &scope.matching());
    let credentials = match r.credentials_or_missing().await {
        Ok(credentials) => credentials,
        Err(Ok(failure)) => return Cleanup::Retry(failure),
        Err(Err(missing)) => {
            return Cleanup::Impossible(format!("{missing}, so the repository cannot be reached"));
        }
    };
    // The last commit is signed like every other: a branch that requires signatures takes no
    // other. A key that is gone or broken is retried like the credentials.
    let signing = match r.signing_key().await {
        Ok(key) => key,
        Err(failure) => return Cleanup::Retry(failure),
    };
    let uid = r.object.metadata.uid.as_deref().unwrap_or_default();
    let (Ok(run), Ok(author)) = (
        RunId::new(&format!("{uid}-deleted")),
        r.object
            .spec
            .commit
            .as_ref()
            .and_then(|c| c.author.as_deref())
            .map_or_else(|| Ok(Author::operator()), Author::parse),
    ) else {
        return Cleanup::Impossible("the object has no usable uid or author".to_owned());
    };
    let count = writes.len();
    let change = Change {
        object: ObjectRef {
            namespace: r.owner.namespace.clone(),
            kind: GitCommit::KIND.as_str().into(),
            name: r.owner.name.clone(),
        },
        run,
        author,
        message: format!(
            "Remove the files of deleted GitCommit {}/{}",
            r.owner.namespace, r.owner.name
        ),
        writes,
        signing,
        at: r.now,
        recover: None,
    };
    let pushed = r
        .ctx
        .engine
        .commit(&repository.url, repository.branch(), &credentials, change)
        .await;
    match pushed {
        Ok(crate::git::Outcome::NoChanges { .. }) => {
            Cleanup::Done(format!("the {count} files were already gone"))
        }
        Ok(outcome) => Cleanup::Done(format!(
            "deleted {count} files in commit {}",
            outcome.commit().unwrap_or_default()
        )),
        Err(error) => Cleanup::Retry(error.into()),
    }
}
