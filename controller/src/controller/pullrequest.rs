//! The PullRequest reconciler: render onto a head branch, keep one pull request open for it.
//!
//! The steps every export kind shares (triggers, policy, references, run ids, retries,
//! status discipline) live in [`super::export`]; this module adds the head branch (created from
//! the base tip, only ever updated with a lease) and the forge: find the open pull request for
//! head→base and update it, or open one; follow it until it is merged or closed.

mod forge_step;

use std::{sync::Arc, time::Duration, time::Instant};

use gco_api::{
    CommitSpec, ExportSpec, ExportStatus, Phase, PullRequest, PullRequestSpec, PullRequestStatus,
    placeholders, rules::ExportRequest,
};
use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};
use tracing::warn;

use super::{
    Context, Error,
    export::{ExportKind, Prepared, Run, requeue_at},
};
use crate::{metrics::KindLabels, watches::OwnerKind};

const KIND: &str = "PullRequest";
/// How often an open pull request is looked at for a merge or a close, besides the triggers.
pub const STATE_POLL: Duration = Duration::from_secs(300);

impl ExportKind for PullRequest {
    const KIND: &'static str = KIND;
    const OWNER: OwnerKind = OwnerKind::PullRequest;
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
    fn default_message(&self, at: Timestamp) -> Result<String, String> {
        Ok(format!("Changes for PR: {}", title(&self.spec, at)?))
    }
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a> {
        ExportRequest::pull_request(namespace, &self.spec)
    }
    fn status_of(&self) -> PullRequestStatus {
        self.status.clone().unwrap_or_default()
    }
    fn export_status(status: &mut PullRequestStatus) -> &mut ExportStatus {
        &mut status.export
    }
    fn export_status_ref(status: &PullRequestStatus) -> &ExportStatus {
        &status.export
    }
}

pub async fn reconcile(object: Arc<PullRequest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let mut run = Run::new(object.as_ref(), &ctx);
    let action = match run.prepare().await {
        Ok(Prepared::Done(action)) => Ok(action),
        Ok(Prepared::UpToDate { next_tick }) => {
            let now = run.now;
            forge_step::refresh(run)
                .await
                .map(|()| poll(next_tick, now))
        }
        Ok(Prepared::Deliver(delivery)) => forge_step::deliver(run, *delivery).await,
        Err(error) => Err(error),
    };
    ctx.metrics
        .reconcile_duration
        .get_or_create(&KindLabels { kind: KIND.into() })
        .observe(started.elapsed().as_secs_f64());
    action
}

pub fn error_policy(object: Arc<PullRequest>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(namespace = %object.namespace().unwrap_or_default(), name = %object.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// The head branch: `spec.pullRequest.headBranch`, else `<branchPrefix>/<namespace>-<name>`.
pub fn head_branch(spec: &PullRequestSpec, namespace: &str, name: &str) -> String {
    match spec.pull_request.head_branch.as_deref() {
        Some(head) if !head.is_empty() => head.to_owned(),
        _ => format!(
            "{}/{namespace}-{name}",
            spec.pull_request.branch_prefix.trim_end_matches('/')
        ),
    }
}

/// The rendered title.
fn title(spec: &PullRequestSpec, at: Timestamp) -> Result<String, String> {
    placeholders::render(&spec.pull_request.title, at)
        .map_err(|e| format!("spec.pullRequest.title: {e}"))
}

/// The rendered body.
fn body(spec: &PullRequestSpec, at: Timestamp) -> Result<String, String> {
    placeholders::render(&spec.pull_request.body, at)
        .map_err(|e| format!("spec.pullRequest.body: {e}"))
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
                branch_prefix: prefix.into(),
                head_branch: head.map(str::to_owned),
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
