//! What the reconcile core needs of a kind that exports: GitCommit or PullRequest.

use std::{fmt::Debug, future::Future, time::Duration};

use gco_api::{
    CommitSpec, ExportKind, ExportSpec, ExportStatus, Phase,
    rules::{Defaults, ExportRequest},
};
use jiff::Timestamp;
use kube::Resource;
use serde::{Serialize, de::DeserializeOwned};

use super::{Failure, Outcome, driver::Reconcile, finalize::Cleanup, plan::Delivery};
use crate::git::Credentials;

/// How a kind delivers a planned run.
#[derive(Debug)]
pub enum Delivering {
    /// Delivered: conclude with this outcome now.
    Done(Outcome),
    /// Hand the change to the push lane of `branch` of `url`; the lane's answer concludes
    /// the run in a later reconcile (`handoff.rs`).
    ToLane { url: String, branch: String },
}

/// A kind that exports files and objects to Git. The core plans and concludes every
/// reconcile; the kind only delivers a planned change its own way.
pub trait Exporter:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    const KIND: ExportKind;
    /// The phase of a successful run.
    const DONE: Phase;
    /// Whether delivering the same files twice commits once (a GitCommit, whose branch then
    /// already holds them): a run whose writes do not depend on its instant then need not be
    /// recorded before its push.
    const IDEMPOTENT_DELIVERY: bool = false;
    /// The whole status; every kind's holds an [`ExportStatus`].
    type Status: Serialize
        + Clone
        + Default
        + Send
        + Sync
        + AsRef<ExportStatus>
        + AsMut<ExportStatus>;

    fn export(&self) -> &ExportSpec;
    /// `spec.auth.secretName`.
    fn auth_secret(&self) -> Option<&str>;
    fn commit_spec(&self) -> Option<&CommitSpec>;
    /// The commit message when the spec names none, rendered at `at`.
    fn default_message(&self, at: Timestamp) -> Result<String, Failure>;
    fn policy_request<'a>(&'a self, namespace: &'a str) -> ExportRequest<'a>;
    /// Fills what the spec leaves out, as the mutating webhook would have.
    fn fill_defaults(&mut self, defaults: &Defaults);
    /// Where runs write: the repository URL as written in the spec, and the branch (a
    /// PullRequest's head branch).
    fn destination(&self) -> (&str, String);
    /// The status as last written (the default when there is none yet).
    fn current_status(&self) -> Self::Status;
    /// How long after its last successful run the object is deleted (GitCommit
    /// `spec.ttlSecondsAfterFinished`); `None`: kept.
    fn time_to_live(&self) -> Option<Duration> {
        None
    }

    /// Carries out a planned run, or says which push lane carries it out. A PullRequest
    /// pushes its head branch and keeps its pull request open itself; status fields of the
    /// kind's own go into `reconcile.status`, and the core concludes the returned outcome.
    fn deliver(
        reconcile: &mut Reconcile<'_, Self>,
        delivery: &Delivery,
        credentials: &Credentials,
    ) -> impl Future<Output = Delivering> + Send;

    /// Whether runs delete the files the object wrote before and no longer writes
    /// (`prune.rs`).
    fn prunes(&self) -> bool {
        false
    }

    /// Whether deleting this object needs the operator's cleanup first (`finalize.rs`).
    fn cleans_up(&self) -> bool {
        false
    }

    /// What a deleted object leaves behind when its cleanup is given up, for the event.
    fn leftovers(&self) -> String {
        "nothing".to_owned()
    }

    /// Cleans up after a deleted object.
    fn clean_up(reconcile: &mut Reconcile<'_, Self>) -> impl Future<Output = Cleanup> + Send {
        let _ = reconcile;
        async { Cleanup::Done(String::new()) }
    }

    /// Nothing new to deliver (the finished run had the same inputs): a kind may look around
    /// (a PullRequest notices a merge).
    fn look_around(
        reconcile: &mut Reconcile<'_, Self>,
        next_tick: Option<Timestamp>,
    ) -> impl Future<Output = Outcome> + Send;
}
