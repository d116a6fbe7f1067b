//! Announcing outcomes: a Kubernetes event (events.k8s.io/v1) on the object for every outcome a
//! human should hear about, and the same event forwarded to Flux (all but `NoChanges`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use tracing::warn;

use crate::flux::{
    FluxEvent, FluxNotifier, InvolvedObject, REPORTING_CONTROLLER, REVISION_KEY, Severity,
    TOKEN_KEY,
};

/// Event reasons of successful outcomes; failures use their condition reason.
pub mod reason {
    pub const COMMIT_PUSHED: &str = "CommitPushed";
    pub const NO_CHANGES: &str = "NoChanges";
    pub const PULL_REQUEST_OPENED: &str = "PullRequestOpened";
    pub const PULL_REQUEST_UPDATED: &str = "PullRequestUpdated";
    pub const REFERENCE_SKIPPED: &str = "ReferenceSkipped";
}

/// One outcome to announce.
#[derive(Clone, Debug)]
pub struct Announcement {
    pub warning: bool,
    pub reason: String,
    pub message: String,
    /// `<branch>@sha1:<sha>`, when the outcome is about a commit.
    pub revision: Option<String>,
    /// Unique per run, so Flux's duplicate suppression never swallows a distinct run.
    pub token: String,
}

/// Publishes announcements as Kubernetes events and, if configured, Flux events.
#[derive(Clone)]
pub struct Announcer {
    recorder: Recorder,
    flux: Option<FluxNotifier>,
    instance: String,
}

impl Announcer {
    pub fn new(client: Client, instance: &str, flux: Option<FluxNotifier>) -> Self {
        let reporter = Reporter {
            controller: REPORTING_CONTROLLER.into(),
            instance: Some(instance.to_owned()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
            flux,
            instance: instance.to_owned(),
        }
    }

    pub async fn announce<K>(&self, object: &K, announcement: Announcement)
    where
        K: Resource<DynamicType = ()>,
    {
        let reference: ObjectReference = object.object_ref(&());
        let event = Event {
            type_: if announcement.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: announcement.reason.clone(),
            note: Some(truncate(&announcement.message, 1000)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &reference).await {
            warn!(%error, reason = %announcement.reason, "cannot record event");
        }
        if let Some(flux) = &self.flux
            && announcement.reason != reason::NO_CHANGES
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
            severity: if a.warning {
                Severity::Error
            } else {
                Severity::Info
            },
            timestamp: Timestamp::now().to_string(),
            message: truncate(&a.message, 39_000),
            reason: a.reason.clone(),
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
