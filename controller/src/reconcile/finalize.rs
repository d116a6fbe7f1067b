//! Deletion: a kind whose objects leave something behind outside the cluster (a PullRequest's
//! open pull request and head branch) holds a finalizer, and its deletion waits for the
//! kind's cleanup. A forge that stays down must not block a namespace's deletion forever: after
//! `--cleanup-timeout-seconds` (600 by default), or at once with the [`SKIP_CLEANUP`]
//! annotation, the finalizer lets go, and an event says what was left behind.

use std::time::Duration;

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde_json::json;

use super::{Error, Exporter, Failure, driver::Reconcile};
use crate::announce::{Announcement, EventReason};

/// The finalizer of objects whose deletion the operator cleans up after.
pub const FINALIZER: &str = "gco.galos.one/cleanup";
/// Set (to any value) on a deleted object to let it go without its cleanup.
pub const SKIP_CLEANUP: &str = "gco.galos.one/skip-cleanup";
/// How soon a failed cleanup is tried again.
const RETRY: Duration = Duration::from_secs(30);

/// What a kind's cleanup came to.
#[derive(Debug)]
pub enum Cleanup {
    /// Done; what was done, for the event.
    Done(String),
    /// Failed this time (the forge is down): tried again.
    Retry(Failure),
    /// Cannot be done (its credentials are gone): the object is let go, with the reason.
    Impossible(String),
}

/// Adds or removes the finalizer so that it is there exactly when the object's deletion needs
/// a cleanup (`Exporter::cleans_up`). Changes nothing, and asks nothing of the apiserver, when
/// it is already so.
pub async fn keep_in_step<K: Exporter>(r: &Reconcile<'_, K>) -> Result<(), Error> {
    let held = r.object.finalizers().iter().any(|f| f == FINALIZER);
    let wanted = r.object.cleans_up();
    if held == wanted {
        return Ok(());
    }
    let mut finalizers = others(r.object);
    if wanted {
        finalizers.push(FINALIZER.to_owned());
    }
    set_finalizers(r, finalizers).await
}

/// The reconcile of a deleted object: its cleanup, then the finalizer goes. `admitted` says
/// whether the policies still admit the spec: a refused spec's forge is never contacted.
pub async fn on_deletion<K: Exporter>(
    mut r: Reconcile<'_, K>,
    admitted: bool,
) -> Result<Action, Error> {
    if !r.object.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let deleted_at = r
        .object
        .meta()
        .deletion_timestamp
        .as_ref()
        .map_or(r.now, |t| t.0);
    let bound = r.ctx.cleanup_timeout;
    let deadline = deleted_at.checked_add(bound).unwrap_or(Timestamp::MAX);
    let given_up = if !admitted {
        Some("the policies refuse the spec now, so its forge is not contacted".to_owned())
    } else if r.object.annotations().contains_key(SKIP_CLEANUP) {
        Some(format!("{SKIP_CLEANUP} is set"))
    } else if r.now >= deadline {
        Some(format!(
            "the cleanup did not succeed within {}s of the deletion",
            bound.as_secs()
        ))
    } else {
        None
    };
    let outcome = match given_up {
        Some(why) => Cleanup::Impossible(why),
        None => K::clean_up(&mut r).await,
    };
    match outcome {
        Cleanup::Done(done) => {
            announce(&r, EventReason::CleanedUp, done);
            release(&r).await?;
            Ok(Action::await_change())
        }
        Cleanup::Impossible(why) => {
            let message = format!("{why}: left behind {}", r.object.leftovers());
            announce(&r, EventReason::CleanupAbandoned, message);
            release(&r).await?;
            Ok(Action::await_change())
        }
        Cleanup::Retry(failure) => {
            let left = deadline.duration_since(r.now).unsigned_abs();
            let message = format!(
                "{}; tried again in {}s, for {}s more at most (set the annotation {SKIP_CLEANUP} to let the object go now)",
                failure.message,
                RETRY.as_secs(),
                left.as_secs()
            );
            announce(&r, EventReason::CleanupFailed, message);
            Ok(Action::requeue(RETRY.min(left)))
        }
    }
}

/// Removes the operator's finalizer: the apiserver then deletes the object.
async fn release<K: Exporter>(r: &Reconcile<'_, K>) -> Result<(), Error> {
    set_finalizers(r, others(r.object)).await
}

/// The object's finalizers but the operator's own.
fn others<K: Exporter>(object: &K) -> Vec<String> {
    object
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect()
}

/// Sets `metadata.finalizers` only if the object is still the version this reconcile read, so
/// a finalizer another controller added meanwhile is never dropped (a conflict is retried).
async fn set_finalizers<K: Exporter>(
    r: &Reconcile<'_, K>,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(r.ctx.client.clone(), &r.owner.namespace);
    let patch: json_patch::Patch = serde_json::from_value(json!([
        { "op": "test", "path": "/metadata/resourceVersion", "value": r.object.resource_version() },
        { "op": "add", "path": "/metadata/finalizers", "value": finalizers },
    ]))
    .map_err(|source| Error::Finalizer {
        object: format!("{}/{}", r.owner.namespace, r.owner.name),
        source: kube::Error::SerdeError(source),
    })?;
    api.patch(
        &r.owner.name,
        &PatchParams::default(),
        &Patch::Json::<()>(patch),
    )
    .await
    .map(drop)
    .map_err(|source| Error::Finalizer {
        object: format!("{}/{}", r.owner.namespace, r.owner.name),
        source,
    })
}

fn announce<K: Exporter>(r: &Reconcile<'_, K>, reason: EventReason, message: String) {
    let announcement = Announcement {
        reason,
        message,
        revision: None,
        token: format!(
            "{}-{}-{}",
            r.object.meta().uid.as_deref().unwrap_or_default(),
            reason.as_str(),
            r.now.as_second()
        ),
    };
    r.ctx.announcer.announce(r.object, announcement);
}
