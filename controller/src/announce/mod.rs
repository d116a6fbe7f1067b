//! Announcing outcomes: a Kubernetes event (events.k8s.io/v1) on the object for every outcome a
//! human should hear about, and the same event forwarded to Flux (all but `NoChanges`).
//!
//! Events are created one per outcome rather than through kube's `Recorder`: the recorder
//! folds events with the same reason into one series and keeps the first note, so the second
//! `CommitPushed` would still name the first commit. Floods are not a concern: runs are
//! triggered by changes and failures back off. A background task writes them (`events.rs`).

mod events;
mod flux;

use std::collections::BTreeMap;

use gco_api::ConditionReason;

use jiff::Timestamp;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::{Client, Resource, ResourceExt, api::ObjectMeta};

use events::EventWriter;

pub use flux::FluxNotifier;
pub use flux::REPORTING_CONTROLLER;
use flux::{FluxEvent, InvolvedObject, REVISION_KEY, Severity, TOKEN_KEY};

/// events.k8s.io allows a 1 kB note.
const NOTE_LIMIT: usize = 1000;

/// Why an event is announced: an outcome of a run, or the condition reason of a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventReason {
    CommitPushed,
    NoChanges,
    PullRequestOpened,
    PullRequestUpdated,
    /// A missing `optional: true` reference was skipped (a warning).
    ReferenceSkipped,
    /// A failed run (a warning), by its condition reason.
    Failed(ConditionReason),
    /// The object was deleted after its `ttlSecondsAfterFinished`.
    Expired,
    /// A deleted object's cleanup is done (its pull request closed, its head branch deleted).
    CleanedUp,
    /// A deleted object's cleanup failed this time (a warning); it is tried again.
    CleanupFailed,
    /// A deleted object's cleanup was given up (a warning): what it left behind.
    CleanupAbandoned,
}

impl EventReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CommitPushed => "CommitPushed",
            Self::NoChanges => "NoChanges",
            Self::PullRequestOpened => "PullRequestOpened",
            Self::PullRequestUpdated => "PullRequestUpdated",
            Self::ReferenceSkipped => "ReferenceSkipped",
            Self::Failed(reason) => reason.as_str(),
            Self::Expired => "Expired",
            Self::CleanedUp => "CleanedUp",
            Self::CleanupFailed => "CleanupFailed",
            Self::CleanupAbandoned => "CleanupAbandoned",
        }
    }

    /// Whether the event is a `Warning` (else `Normal`).
    pub const fn is_warning(self) -> bool {
        matches!(
            self,
            Self::ReferenceSkipped | Self::Failed(_) | Self::CleanupFailed | Self::CleanupAbandoned
        )
    }
}

/// One outcome to announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub reason: EventReason,
    pub message: String,
    /// `<branch>@sha1:<sha>`, when the outcome is about a commit.
    pub revision: Option<String>,
    /// Unique per run, so Flux's duplicate suppression never swallows a distinct run.
    pub token: String,
}

/// Publishes announcements as Kubernetes events and, if configured, Flux events.
#[derive(Clone)]
pub struct Announcer {
    events: EventWriter,
    flux: Option<FluxNotifier>,
    instance: String,
}

impl Announcer {
    /// Starts the event writer; call within the tokio runtime.
    pub fn new(client: Client, instance: &str, flux: Option<FluxNotifier>) -> Self {
        Self {
            events: EventWriter::spawn(client),
            flux,
            instance: instance.to_owned(),
        }
    }

    /// Queues the Kubernetes event and the Flux event of `announcement`; never waits.
    pub fn announce<K>(&self, object: &K, announcement: Announcement)
    where
        K: Resource<DynamicType = ()>,
    {
        let namespace = object.namespace().unwrap_or_default();
        let now = Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                // As client-go names events: the object's name and a unique hex suffix.
                name: Some(format!(
                    "{}.{:x}",
                    object.name_any(),
                    now.as_nanosecond().unsigned_abs()
                )),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(
                if announcement.reason.is_warning() {
                    "Warning"
                } else {
                    "Normal"
                }
                .into(),
            ),
            reason: Some(announcement.reason.as_str().into()),
            note: Some(truncate(&announcement.message, NOTE_LIMIT)),
            action: Some("Reconcile".into()),
            regarding: Some(object.object_ref(&())),
            reporting_controller: Some(REPORTING_CONTROLLER.into()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        self.events.write(event);
        if let Some(flux) = &self.flux
            && announcement.reason != EventReason::NoChanges
        {
            flux.notify(self.flux_event(object, &announcement));
        }
    }

    fn flux_event<K: Resource<DynamicType = ()>>(&self, object: &K, a: &Announcement) -> FluxEvent {
        let mut metadata = BTreeMap::from([(TOKEN_KEY.to_owned(), a.token.clone())]);
        if let Some(revision) = &a.revision {
            metadata.insert(REVISION_KEY.to_owned(), revision.clone());
        }
        FluxEvent {
            involved_object: InvolvedObject {
                api_version: K::api_version(&()).into_owned(),
                kind: K::kind(&()).into_owned(),
                namespace: object.namespace().unwrap_or_default(),
                name: object.name_any(),
                uid: object.uid().unwrap_or_default(),
            },
            severity: if a.reason.is_warning() {
                Severity::Error
            } else {
                Severity::Info
            },
            timestamp: Timestamp::now().to_string(),
            message: truncate(&a.message, 39_000),
            reason: a.reason.as_str().into(),
            metadata,
            reporting_controller: REPORTING_CONTROLLER.into(),
            reporting_instance: self.instance.clone(),
        }
    }
}

/// `message` cut to at most `limit` bytes (on a character boundary), marked with `…`.
pub(crate) fn truncate(message: &str, limit: usize) -> String {
    if message.len() <= limit {
        return message.to_owned();
    }
    let mut end = limit;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
