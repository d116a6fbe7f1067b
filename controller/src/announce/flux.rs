//! Forwarding events to Flux's notification-controller (`--events-addr`), in Flux's own
//! `event.toolkit.fluxcd.io` Event shape, so Flux Alerts can route them to Slack and friends.
//!
//! Delivery never blocks or fails a reconcile: events are sent from a background task, retried
//! on 5xx and connection errors with a short timeout, and dropped (with a log line) after that.
//! 429 means "duplicate" to notification-controller and is final.

use std::{collections::BTreeMap, time::Duration};

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// The controller name Flux shows as the event's source.
pub const REPORTING_CONTROLLER: &str = "git-change-operator";
/// Metadata key of the revision, `<branch>@sha1:<sha>` (Flux strips the group prefix).
pub const REVISION_KEY: &str = "gco.galos.one/revision";
/// Metadata key of a value unique per run, so Flux's duplicate suppression keeps distinct runs.
pub const TOKEN_KEY: &str = "gco.galos.one/token";
/// Per-attempt timeout, as Flux's own recorder uses.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per event, the first included.
const ATTEMPTS: u32 = 3;
/// Events waiting for delivery; beyond this the newest are dropped rather than block.
const QUEUE: usize = 1024;

/// Flux's Event (`github.com/fluxcd/pkg/apis/event/v1beta1.Event`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    pub involved_object: InvolvedObject,
    pub severity: Severity,
    /// RFC 3339.
    pub timestamp: String,
    pub message: String,
    pub reason: String,
    pub metadata: BTreeMap<String, String>,
    pub reporting_controller: String,
    pub reporting_instance: String,
}

/// The object an event is about (a corev1.ObjectReference; Flux reads the group from
/// `apiVersion`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Error,
}

/// Sends events to notification-controller from a background task.
#[derive(Clone, Debug)]
pub struct FluxNotifier {
    queue: mpsc::Sender<FluxEvent>,
}

impl FluxNotifier {
    /// Starts the delivery task. `address` is notification-controller's events endpoint,
    /// e.g. `http://notification-controller.flux-system.svc.cluster.local./`.
    pub fn spawn(address: String) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        let (queue, mut events) = mpsc::channel::<FluxEvent>(QUEUE);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                deliver(&http, &address, &event).await;
            }
        });
        Ok(Self { queue })
    }

    /// Queues an event; never waits.
    pub fn notify(&self, event: FluxEvent) {
        if let Err(error) = self.queue.try_send(event) {
            warn!(%error, "Flux event queue full or closed; event dropped");
        }
    }
}

async fn deliver(http: &reqwest::Client, address: &str, event: &FluxEvent) {
    for attempt in 1..=ATTEMPTS {
        let outcome = http.post(address).json(event).send().await;
        match outcome {
            Ok(response) if response.status().is_success() => {
                debug!(reason = %event.reason, "Flux event delivered");
                return;
            }
            Ok(response) if response.status().is_server_error() => {
                warn!(status = %response.status(), attempt, "Flux event receiver error; retrying");
            }
            Ok(response) => {
                // 429 is Flux's duplicate suppression; 4xx will not get better either.
                debug!(status = %response.status(), reason = %event.reason, "Flux event not accepted");
                return;
            }
            Err(error) => {
                warn!(error = %error.without_url(), attempt, "Flux event receiver unreachable; retrying");
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }
    warn!(reason = %event.reason, "Flux event dropped after {ATTEMPTS} attempts");
}
