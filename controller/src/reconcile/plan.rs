//! What one reconcile does, decided without I/O.
//!
//! [`admit`] runs before anything is read: suspend, the retry annotations, the schedule and the
//! policy verdict. [`plan`] runs once the references are read: the run's identity, whether that
//! run is already done, missing references, and the rendered change. Both are pure, so every
//! decision is a unit test (see `plan/tests.rs`).

use std::time::Duration;

use gco_api::{
    ConditionType, EncryptedFile, ExportStatus, GitExportPolicy, Inventory, placeholders,
    rules::Violations,
};
use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Exporter, Failure, expiry,
    failure::FailureReason,
    prune, requested_at,
    retry::RetrySettings,
    run_id::{RunInputs, derive_run_id},
    schedule::Schedule,
    sealing,
};
use crate::{
    git::{Author, Change, ObjectRef, RunId},
    references::{Found, ReadReference, ReferenceError},
    render::{offline::judge_rendered, render_owned},
    seal::DigestKey,
};

/// What a reconcile does.
#[derive(Debug)]
pub enum Plan {
    /// Nothing until something changes, or until the action's requeue.
    Idle(Action),
    /// The finished run had the same inputs: nothing to deliver (the kind may look around).
    UpToDate { next_tick: Option<Timestamp> },
    /// The run cannot go on. `run` is its identity when it was known.
    Fail {
        failure: Failure,
        run: Option<RunId>,
    },
    /// Record the run, then deliver its change.
    Deliver(Box<Delivery>),
    /// The object finished and its `ttlSecondsAfterFinished` has passed: delete it.
    Expire,
}

/// What [`admit`] let through: the settings every later step uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Admitted {
    pub retry: RetrySettings,
    /// The schedule slot this run belongs to.
    pub slot: Option<Timestamp>,
    /// When the schedule fires next.
    pub next_tick: Option<Timestamp>,
    /// The newest reconcile request annotation.
    pub requested: Option<String>,
}

/// A rendered run, ready to deliver.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub run_id: RunId,
    /// The instant every placeholder of the run renders: the run's first attempt.
    pub at: Timestamp,
    pub change: Change,
    /// What the run skipped (missing optional references, selectors that matched nothing),
    /// for the message and a warning event.
    pub skipped: Vec<String>,
    /// What the run leaves written, for the status.
    pub written: Written,
    pub next_tick: Option<Timestamp>,
    /// Whether the run's writes depend on its instant or add to files: then the run must be
    /// recorded before its push, so that a retry after a crash renders the same instant and
    /// finds its commit instead of appending twice ([`depends_on_its_run`]).
    pub record_first: bool,
}

/// The checks that need nothing read: suspend, expiry, annotations, schedule, policy.
pub fn admit<K: Exporter>(
    object: &K,
    policy: Result<(), Violations>,
    now: Timestamp,
) -> Result<Admitted, Plan> {
    let fail = |failure: Failure| Plan::Fail { failure, run: None };
    let export = object.export();
    if export.suspend {
        return Err(Plan::Idle(Action::await_change()));
    }
    let generation = object.meta().generation.unwrap_or(0);
    let status = object.current_status();
    if expiry::is_due(
        expiry::expires_at(object.time_to_live(), status.as_ref(), generation),
        now,
    ) {
        return Err(Plan::Expire);
    }
    let retry =
        RetrySettings::from_annotations(object.annotations()).map_err(|e| fail(e.into()))?;
    let schedule = export
        .schedule
        .as_deref()
        .map(Schedule::parse)
        .transpose()
        .map_err(|e| fail(e.into()))?;
    policy.map_err(|violations| fail(violations.into()))?;
    let created = object.meta().creation_timestamp.as_ref().map(|t| t.0);
    let slot = schedule
        .as_ref()
        .and_then(|s| s.latest_at_or_before(now))
        .filter(|slot| created.is_none_or(|c| *slot >= c));
    Ok(Admitted {
        retry,
        slot,
        next_tick: schedule.as_ref().and_then(|s| s.next_after(now)),
        requested: requested_at(object.annotations()),
    })
}

/// What the rendered run is held to: the policies that select the object's namespace (the
/// paths as rendered at the run's instant must stay within their prefixes: a path with
/// `$(date)` in it was checked at admission at another instant), and the key that seals
/// Secret dumps (or why there is none).
pub struct Rules<'a> {
    pub policies: &'a [&'a GitExportPolicy],
    pub digest_key: Result<&'a DigestKey, &'a str>,
}

/// The run the read references call for, given the last status.
pub fn plan<K: Exporter>(
    object: &K,
    admitted: &Admitted,
    references: Result<Vec<ReadReference>, ReferenceError>,
    rules: &Rules<'_>,
    status: &ExportStatus,
    now: Timestamp,
) -> Plan {
    let references = match references {
        Ok(references) => references,
        Err(error) => {
            return Plan::Fail {
                failure: error.into(),
                run: None,
            };
        }
    };
    let generation = object.meta().generation.unwrap_or(0);
    let run_id = derive_run_id(&RunInputs {
        uid: object.meta().uid.as_deref().unwrap_or_default(),
        generation,
        references: references
            .iter()
            .flat_map(ReadReference::objects)
            .map(|r| (r.key.display(), r.resource_version.clone()))
            .collect(),
        schedule_slot: admitted.slot,
        requested_at: admitted.requested.as_deref(),
    });
    let previous = status.run.as_ref().filter(|run| run.id == run_id.as_str());
    if previous.is_some() && status.observed_generation == Some(generation) {
        if previous.is_some_and(|run| run.done) {
            return Plan::UpToDate {
                next_tick: admitted.next_tick,
            };
        }
        if is_true(status, ConditionType::Stalled) {
            // Nothing changed since this run stalled.
            return Plan::Idle(requeue_at(admitted.next_tick, now));
        }
    }

    let mut skipped = Vec::new();
    let pairs = object.export().resource_references.iter().zip(&references);
    for (index, (reference, read)) in pairs.enumerate() {
        match &read.found {
            Found::Named(one) if one.object.is_none() => {
                if !reference.optional {
                    // The key reads `<namespace>/<Kind>/<name>`: it names the kind already.
                    let message = format!(
                        "{} does not exist: create it, or mark the reference `optional: true`",
                        one.key.display()
                    );
                    return Plan::Fail {
                        failure: Failure::new(FailureReason::ReferenceNotFound, message),
                        run: Some(run_id),
                    };
                }
                skipped.push(format!("{} (optional, missing)", one.key.display()));
            }
            Found::Selected(selected) if selected.matches.is_empty() => {
                skipped.push(format!(
                    "spec.resourceReferences[{index}] ({} {} matched nothing)",
                    read.kind.resource.kind,
                    reference.describe()
                ));
            }
            _ => {}
        }
    }

    // A retried run renders the instant of its first attempt, and so finds its own commit.
    let at = previous.map_or(now, |run| run.time.0);
    let objects: Vec<Vec<serde_json::Value>> = references
        .into_iter()
        .map(ReadReference::into_values)
        .collect();
    match change(object, &run_id, &objects, rules, status, at) {
        Ok((change, written)) => Plan::Deliver(Box::new(Delivery {
            record_first: depends_on_its_run(object, &change),
            run_id,
            at,
            change,
            skipped,
            written,
            next_tick: admitted.next_tick,
        })),
        Err(failure) => Plan::Fail {
            failure,
            run: Some(run_id),
        },
    }
}

/// The spec rendered into the change for the engine, and with prune the inventory the run
/// leaves; a failure names the field at fault.
fn change<K: Exporter>(
    object: &K,
    run_id: &RunId,
    objects: &[Vec<serde_json::Value>],
    rules: &Rules<'_>,
    status: &ExportStatus,
    at: Timestamp,
) -> Result<(Change, Written), Failure> {
    let policies = rules.policies;
    let previous = status.inventory.as_ref();
    let (mut writes, mut fields) = render_owned(object.export(), objects, at)?;
    sealing::seal_secrets(object.export(), &mut writes, &fields, rules, at)?;
    let encrypted = sealing::encrypt_files(
        object.export(),
        &mut writes,
        &fields,
        rules,
        &status.encrypted_files,
    )?;
    let (inventory, recover) = match object.prunes() {
        true => {
            let (url, branch) = object.destination();
            let inventory = prune::inventory(&writes, url, &branch)?;
            let removals = prune::removals(previous, &inventory, policies);
            fields.extend(removals.iter().map(|_| "spec.prune".to_owned()));
            writes.extend(removals);
            // No inventory at all: the status was lost, and the branch tells what was written.
            let recover = previous
                .is_none()
                .then(|| prune::claims(object.export(), policies));
            (Some(inventory), recover)
        }
        false => (None, None),
    };
    judge_rendered(&writes, &fields, policies)?;
    let commit = object.commit_spec().cloned().unwrap_or_default();
    let message = match commit.message.as_deref() {
        Some(message) => placeholders::render(message, at)
            .map_err(|e| Failure::render(format!("spec.commit.message: {e}")))?,
        None => object.default_message(at)?,
    };
    let author = match commit.author.as_deref() {
        Some(author) => Author::parse(author)
            .map_err(|e| Failure::render(format!("spec.commit.author: {e}")))?,
        None => Author::operator(),
    };
    let change = Change {
        object: ObjectRef {
            namespace: object.namespace().unwrap_or_default(),
            kind: K::KIND.as_str().into(),
            name: object.name_any(),
        },
        run: run_id.clone(),
        author,
        message,
        writes,
        // Read with the credentials, when the run is delivered.
        signing: None,
        at,
        recover,
    };
    Ok((
        change,
        Written {
            inventory,
            encrypted,
        },
    ))
}

/// What a delivered run leaves written, recorded in the status when it succeeds: with prune
/// its inventory, and the digests of the files it encrypted with age.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Written {
    pub inventory: Option<Inventory>,
    pub encrypted: Vec<EncryptedFile>,
}

/// Whether delivering `change` twice could differ from delivering it once: a write that adds
/// to a file, or a path or file content rendered from the run's instant. Otherwise a second
/// delivery finds the branch already holding the files and commits nothing.
fn depends_on_its_run<K: Exporter>(object: &K, change: &Change) -> bool {
    let export = object.export();
    change.writes.iter().any(|write| write.mode.appends())
        || export
            .resource_references
            .iter()
            .any(|r| placeholders::has_placeholders(&r.output.path))
        || export.files.iter().any(|f| {
            placeholders::has_placeholders(&f.path) || placeholders::has_placeholders(&f.content)
        })
}

fn is_true(status: &ExportStatus, type_: ConditionType) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == type_.as_str() && c.status == "True")
}

/// Requeue at the next schedule tick, or wait for a change.
pub fn requeue_at(next_tick: Option<Timestamp>, now: Timestamp) -> Action {
    match next_tick {
        Some(tick) => {
            let wait = tick.duration_since(now).unsigned_abs();
            // A tick is due within the second it names: land just after it.
            Action::requeue(wait + Duration::from_millis(200))
        }
        None => Action::await_change(),
    }
}

#[cfg(test)]
mod tests;
