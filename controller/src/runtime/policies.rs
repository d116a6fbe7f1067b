//! What the reconcile-time policy check reads, failing closed: nothing is judged before every
//! policy and namespace is cached, an object whose namespace is not cached yet waits, and a
//! policy the Rust types cannot read refuses the namespaces it may govern and is reported with
//! a Warning event for the admin who wrote it.

use std::{collections::BTreeMap, sync::Arc};

use futures::StreamExt;
use gco_api::{
    GitExportPolicy,
    rules::{BrokenPolicy, ExportRequest, PolicySet, Violations},
};
use gco_runtime::policies::{PolicyListener, PolicyWatch};
use jiff::Timestamp;
use k8s_openapi::api::{
    core::v1::{Namespace, ObjectReference},
    events::v1::Event,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ObjectMeta, PartialObjectMeta, PostParams},
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tokio::sync::mpsc::UnboundedSender;
use tracing::warn;

use crate::announce::{REPORTING_CONTROLLER, truncate};

/// The policy check could not be made yet: the caches are still filling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotReady;

/// The policies as they stand for one namespace: those that select it supply the defaults
/// of an object there, and judge it (later rules, such as the paths as rendered at the run's
/// instant, apply them too).
pub struct Scope {
    set: Arc<PolicySet>,
    labels: BTreeMap<String, String>,
}

impl Scope {
    /// The readable policies that select the namespace.
    pub fn matching(&self) -> Vec<&GitExportPolicy> {
        self.set.matching(&self.labels)
    }

    /// Evaluates the built-in rules and the policies that select the namespace, as the
    /// admission webhook does.
    pub fn check(&self, request: &ExportRequest<'_>) -> Result<(), Violations> {
        self.set.check(request, &self.labels).map(|_| ())
    }
}

/// Every policy and every namespace's labels.
pub struct Policies {
    policies: Arc<PolicyWatch>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
}

impl Policies {
    /// Starts the watches. Every policy change is sent to each of `changes`, so that every
    /// object is evaluated again.
    pub fn watch(client: &Client, changes: Vec<UnboundedSender<()>>) -> Self {
        let (namespaces, writer) = reflector::store::<PartialObjectMeta<Namespace>>();
        tokio::spawn(
            watcher(
                Api::<PartialObjectMeta<Namespace>>::all(client.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .reflect(writer)
            .for_each(|_| async {}),
        );
        let listener = Listener {
            client: client.clone(),
            changes,
        };
        Self {
            policies: PolicyWatch::start(client, listener),
            namespaces,
        }
    }

    /// The policies for objects in `namespace`; not ready while either cache is filling (a
    /// namespace created a moment ago may not be cached yet: never judge without it).
    pub fn scope(&self, namespace: &str) -> Result<Scope, NotReady> {
        let set = self.policies.current().ok_or(NotReady)?;
        let namespace = self
            .namespaces
            .get(&ObjectRef::new(namespace))
            .ok_or(NotReady)?;
        Ok(Scope {
            set,
            labels: namespace.labels().clone(),
        })
    }

    /// Waits until both caches are filled.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        self.namespaces.wait_until_ready().await?;
        self.policies.wait_until_ready().await;
        Ok(())
    }
}

struct Listener {
    client: Client,
    changes: Vec<UnboundedSender<()>>,
}

impl PolicyListener for Listener {
    fn changed(&mut self, _set: &PolicySet) {
        for change in &self.changes {
            let _ = change.send(());
        }
    }

    fn broken(&mut self, policy: &BrokenPolicy) {
        let (client, name, error) = (
            self.client.clone(),
            policy.name.clone(),
            policy.error.clone(),
        );
        tokio::spawn(async move { report(&client, &name, &error).await });
    }
}

/// A Warning event on a policy that cannot be read, for the admin who wrote it (in `default`:
/// the policy is cluster-scoped).
async fn report(client: &Client, name: &str, error: &str) {
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond().unsigned_abs())),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        type_: Some("Warning".into()),
        reason: Some("InvalidPolicy".into()),
        note: Some(truncate(
            &format!(
                "cannot read this GitExportPolicy ({error}): exports in the namespaces it may \
                 govern are refused until it is fixed"
            ),
            1000,
        )),
        action: Some("Evaluate".into()),
        regarding: Some(ObjectReference {
            api_version: Some(GitExportPolicy::api_version(&()).into_owned()),
            kind: Some(GitExportPolicy::kind(&()).into_owned()),
            name: Some(name.to_owned()),
            ..ObjectReference::default()
        }),
        reporting_controller: Some(REPORTING_CONTROLLER.into()),
        reporting_instance: Some(REPORTING_CONTROLLER.into()),
        ..Event::default()
    };
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    if let Err(error) = events.create(&PostParams::default(), &event).await {
        warn!(%error, policy = %name, "cannot record event");
    }
}
