//! PullRequest: deliver a planned change onto a head branch and keep one pull request open
//! for it.
//!
//! The head branch is created from the base tip and only ever updated with a lease; the pull
//! request for head→base is found and updated, or opened, and followed until it is merged or
//! closed ([`deliver`]). Deleting the PullRequest closes its pull request and deletes its head
//! branch ([`cleanup`]).

mod cleanup;
mod deliver;

use std::time::Duration;

use gco_api::{
    CommitSpec, ExportKind, ExportSpec, Phase, PullRequest, PullRequestSpec, PullRequestStatus,
    placeholders,
    rules::{Defaults, ExportRequest},
};
use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Delivering, Exporter, Failure, Outcome,
    driver::Reconcile,
    finalize::Cleanup,
    plan::{Delivery, requeue_at},
};
use crate::git::Credentials;

/// How often an open pull request is looked at for a merge or a close, besides the triggers.
pub const STATE_POLL: Duration = Duration::from_secs(300);

impl Exporter for PullRequest {
    const KIND: ExportKind = ExportKind::PullRequest;
    const DONE: Phase = Phase::Created;
    type Status = PullRequestStatus;

    fn export(&self) -> &ExportSpec {
        &self.spec.export
    }
    fn auth_secret(&self) -> Option<&str> {
        self.spec.auth.as_ref().map(|a| a.secret_name.as_str())
    }
    fn commit_spec(&self) -> Option<&CommitSpec> {
        self.spec.commit.as_ref()
    }
    /// `Changes for PR: <title>`, the title's placeholders rendered.
    fn default_message(&self, at: Timestamp) -> Result<String, Failure> {
        Ok(format!("Changes for PR: {}", title(&self.spec, at)?))
    }
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a> {
        ExportRequest::pull_request(namespace, &self.spec).named_if(self.metadata.name.as_deref())
    }
    fn fill_defaults(&mut self, defaults: &Defaults) {
        defaults.fill_pull_request(&mut self.spec);
    }
    fn destination(&self) -> (&str, String) {
        let head = head_branch(
            &self.spec,
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        );
        (&self.spec.repository.url, head)
    }
    fn current_status(&self) -> PullRequestStatus {
        self.status.clone().unwrap_or_default()
    }

    async fn deliver(
        reconcile: &mut Reconcile<'_, Self>,
        delivery: &Delivery,
        credentials: &Credentials,
    ) -> Delivering {
        Delivering::Done(deliver::deliver(reconcile, delivery, credentials).await)
    }

    fn cleans_up(&self) -> bool {
        !self.spec.pull_request.keep_on_deletion
    }

    fn leftovers(&self) -> String {
        let head = head_branch(
            &self.spec,
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        );
        format!("the pull request of head branch {head}, if open, and the branch itself")
    }

    async fn clean_up(reconcile: &mut Reconcile<'_, Self>) -> Cleanup {
        cleanup::clean_up(reconcile).await
    }

    async fn look_around(
        reconcile: &mut Reconcile<'_, Self>,
        next_tick: Option<Timestamp>,
    ) -> Outcome {
        deliver::refresh(reconcile, next_tick).await
    }
}

/// The head branch: `spec.pullRequest.headBranch`, else `<branchPrefix>/<namespace>-<name>`
/// (the one definition the policy rules check too).
fn head_branch(spec: &PullRequestSpec, namespace: &str, name: &str) -> String {
    gco_api::rules::head_branch(&spec.pull_request, namespace, name)
}

/// The rendered title.
fn title(spec: &PullRequestSpec, at: Timestamp) -> Result<String, Failure> {
    placeholders::render(&spec.pull_request.title, at)
        .map_err(|e| Failure::render(format!("spec.pullRequest.title: {e}")))
}

/// The rendered body.
fn body(spec: &PullRequestSpec, at: Timestamp) -> Result<String, Failure> {
    placeholders::render(&spec.pull_request.body, at)
        .map_err(|e| Failure::render(format!("spec.pullRequest.body: {e}")))
}

/// Requeue in time to notice a merge, or at the next schedule tick if sooner.
fn poll(next_tick: Option<Timestamp>, now: Timestamp) -> Action {
    let tick = requeue_at(next_tick, now);
    match next_tick {
        Some(t) if t.duration_since(now).unsigned_abs() < STATE_POLL => tick,
        _ => Action::requeue(STATE_POLL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gco_api::{PullRequestOptions, PullRequestRepository};

    fn spec(prefix: &str, head: Option<&str>) -> PullRequestSpec {
        PullRequestSpec {
            repository: PullRequestRepository::default(),
            auth: None,
            pull_request: PullRequestOptions {
                title: "Sync $(date +%Y)".into(),
                body: String::new(),
                branch_prefix: Some(prefix.into()),
                head_branch: head.map(str::to_owned),
                keep_on_deletion: false,
            },
            commit: None,
            export: ExportSpec::default(),
        }
    }

    #[test]
    fn head_branch_is_deterministic_unless_named() {
        assert_eq!(
            head_branch(&spec("gco", None), "team", "sync"),
            "gco/team-sync"
        );
        assert_eq!(head_branch(&spec("bots/", None), "t", "s"), "bots/t-s");
        assert_eq!(head_branch(&spec("gco", Some("mine")), "t", "s"), "mine");
    }

    #[test]
    fn default_message_names_the_rendered_title() {
        let at: Timestamp = "2026-11-22T13:00:00Z".parse().unwrap();
        let object = PullRequest::new("s", spec("gco", None));
        assert_eq!(
            object.default_message(at).unwrap(),
            "Changes for PR: Sync 2026"
        );
    }
}
