//! Kubernetes events are written by a background task, as client-go's recorder does: a run's
//! conclusion queues its event and goes on, so the apiserver's latency for events never holds
//! a reconcile worker. A full queue drops the event with a warning rather than wait.

use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use kube::{Api, Client, api::PostParams};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::warn;

/// Events waiting to be written: a burst of thousands of runs concluding at once fits.
const QUEUE: usize = 4096;
/// Events written at once.
const WRITERS: usize = 8;

/// Queues events for the background writer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventWriter {
    queue: mpsc::Sender<Event>,
}

impl EventWriter {
    /// Starts the writer task; call within the tokio runtime.
    pub fn spawn(client: Client) -> Self {
        let (queue, events) = mpsc::channel::<Event>(QUEUE);
        tokio::spawn(
            ReceiverStream::new(events).for_each_concurrent(WRITERS, move |event| {
                let client = client.clone();
                async move { write(client, event).await }
            }),
        );
        Self { queue }
    }

    /// Queues `event`; never waits.
    pub fn write(&self, event: Event) {
        if let Err(error) = self.queue.try_send(event) {
            warn!(%error, "event queue full or closed; event dropped");
        }
    }
}

async fn write(client: Client, event: Event) {
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let reason = event.reason.clone().unwrap_or_default();
    let events: Api<Event> = Api::namespaced(client, &namespace);
    if let Err(error) = events.create(&PostParams::default(), &event).await {
        warn!(%error, %reason, "cannot record event");
    }
}
