//! What the webhook needs from the cluster: the policies, a namespace's labels, and whether a
//! user may `get` an object. [`KubeCluster`] is the real one (reflectors and
//! SubjectAccessReviews); unit tests use a fixed one.

use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use gco_api::rules::{AccessCheck, BrokenPolicy, PolicySet};
use gco_runtime::policies::{PolicyListener, PolicyWatch};
use k8s_openapi::api::{
    authentication::v1::UserInfo,
    authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
    core::v1::Namespace,
};
use kube::{
    Api, Client,
    api::{GroupVersionKind, PostParams},
    discovery::{self, Scope},
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};

use crate::access_cache::AccessCache;

/// How long a kind that discovery does not know (a CRD not installed yet) keeps its guessed
/// resource name before discovery is asked again.
const UNKNOWN_KIND_TTL: Duration = Duration::from_secs(30);

/// A failure to ask the cluster; the webhook denies (fails closed) rather than guess.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot read namespace {namespace:?}: {source}")]
    Namespace {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("the GitExportPolicies are not listed yet")]
    PoliciesNotReady,
    #[error("cannot ask the apiserver which kinds it serves: {source}")]
    Discovery {
        #[source]
        source: kube::Error,
    },
    #[error(
        "the cluster serves no kind {kind} in {group_version}: check apiVersion and kind, or \
         install the CRD that defines it before referencing it"
    )]
    UnknownKind { group_version: String, kind: String },
    #[error("cannot run a SubjectAccessReview for {kind} {name:?}: {source}")]
    AccessReview {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The cluster as the webhook sees it.
pub trait Cluster: Send + Sync + 'static {
    /// Every GitExportPolicy, current as of the last watch event, each decoded on its own (one
    /// that cannot be read refuses the namespaces it may govern).
    fn policies(&self) -> Result<Arc<PolicySet>, ClusterError>;

    /// The labels of `namespace` (empty when it has none).
    fn namespace_labels(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ClusterError>> + Send;

    /// Whether discovery knows the kind. A reference to a kind the cluster does not serve is
    /// refused: its scope, and so which namespace an access check should name, is unknown.
    fn kind_served(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> impl Future<Output = Result<bool, ClusterError>> + Send;

    /// Whether `user` may do `check` (a `get` of one object).
    fn allowed(
        &self,
        user: &UserInfo,
        check: &AccessCheck,
    ) -> impl Future<Output = Result<bool, ClusterError>> + Send;
}

/// A kind resolved to its resource: plural name and scope; `None` for a kind discovery does
/// not know, an answer that expires.
#[derive(Clone, Debug)]
struct Resolved {
    served: Option<Served>,
    at: Instant,
}

#[derive(Clone, Debug)]
struct Served {
    plural: String,
    namespaced: bool,
}

/// The real cluster: policies and namespaces through reflectors (a change takes effect with the
/// next watch event, no restart), access through SubjectAccessReviews.
pub struct KubeCluster {
    client: Client,
    policies: Arc<PolicyWatch>,
    namespaces: Store<Namespace>,
    resources: Mutex<HashMap<(String, String, String), Resolved>>,
    access: AccessCache,
}

impl KubeCluster {
    /// Starts the policy and namespace reflectors on the current tokio runtime.
    pub fn start(client: Client) -> Self {
        let policies = PolicyWatch::start(&client, Quiet);
        let namespaces = reflect(Api::<Namespace>::all(client.clone()));
        Self {
            client,
            policies,
            namespaces,
            resources: Mutex::new(HashMap::new()),
            access: AccessCache::default(),
        }
    }

    /// Waits until both reflectors have listed once; until then `/readyz` fails.
    pub async fn wait_until_ready(&self) {
        self.policies.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
    }

    /// Resolves a kind to its resource with discovery, caching the answer (a "no such kind"
    /// only for [`UNKNOWN_KIND_TTL`]: a CRD may be installed a moment later).
    async fn resolve(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Option<Served>, ClusterError> {
        let key = (group.to_owned(), version.to_owned(), kind.to_owned());
        if let Ok(cache) = self.resources.lock()
            && let Some(found) = cache.get(&key)
            && (found.served.is_some() || found.at.elapsed() < UNKNOWN_KIND_TTL)
        {
            return Ok(found.served.clone());
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let served = match discovery::pinned_kind(&self.client, &gvk).await {
            Ok((resource, capabilities)) => Some(Served {
                plural: resource.plural,
                namespaced: capabilities.scope == Scope::Namespaced,
            }),
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(source) => return Err(ClusterError::Discovery { source }),
        };
        if let Ok(mut cache) = self.resources.lock() {
            let at = Instant::now();
            cache.insert(
                key,
                Resolved {
                    served: served.clone(),
                    at,
                },
            );
        }
        Ok(served)
    }
}

fn reflect<K>(api: Api<K>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .applied_objects();
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    reader
}

/// The webhook reports nothing itself about policies: the controller's Warning events do.
struct Quiet;

impl PolicyListener for Quiet {
    fn changed(&mut self, _set: &PolicySet) {}
    fn broken(&mut self, _policy: &BrokenPolicy) {}
}

impl Cluster for KubeCluster {
    fn policies(&self) -> Result<Arc<PolicySet>, ClusterError> {
        self.policies
            .current()
            .ok_or(ClusterError::PoliciesNotReady)
    }

    async fn namespace_labels(
        &self,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ClusterError> {
        if let Some(found) = self.namespaces.get(&ObjectRef::new(namespace)) {
            return Ok(found.metadata.labels.clone().unwrap_or_default());
        }
        // A namespace created a moment ago may not have reached the reflector yet.
        let api = Api::<Namespace>::all(self.client.clone());
        match api.get_opt(namespace).await {
            Ok(found) => Ok(found.and_then(|n| n.metadata.labels).unwrap_or_default()),
            Err(source) => Err(ClusterError::Namespace {
                namespace: namespace.to_owned(),
                source,
            }),
        }
    }

    async fn kind_served(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<bool, ClusterError> {
        Ok(self.resolve(group, version, kind).await?.is_some())
    }

    async fn allowed(&self, user: &UserInfo, check: &AccessCheck) -> Result<bool, ClusterError> {
        if let Some(allowed) = self.access.get(user, check) {
            return Ok(allowed);
        }
        let resolved = self
            .resolve(&check.group, &check.version, &check.kind)
            .await?
            .ok_or_else(|| ClusterError::UnknownKind {
                group_version: group_version(&check.group, &check.version),
                kind: check.kind.clone(),
            })?;
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: user.username.clone(),
                uid: user.uid.clone(),
                groups: user.groups.clone(),
                extra: user.extra.clone(),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(check.group.clone()),
                    version: Some(check.version.clone()),
                    resource: Some(resolved.plural),
                    namespace: resolved.namespaced.then(|| check.namespace.clone()),
                    name: Some(check.name.clone()),
                    verb: Some(check.verb.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api = Api::<SubjectAccessReview>::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|source| ClusterError::AccessReview {
                kind: check.kind.clone(),
                name: check.name.clone(),
                source,
            })?;
        let allowed = answer.status.is_some_and(|status| status.allowed);
        self.access.put(user, check, allowed);
        Ok(allowed)
    }
}

/// A shared cluster view is a cluster view (the readiness probe holds a second handle).
impl<C: Cluster> Cluster for Arc<C> {
    fn policies(&self) -> Result<Arc<PolicySet>, ClusterError> {
        self.as_ref().policies()
    }

    fn namespace_labels(
        &self,
        namespace: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, ClusterError>> + Send {
        self.as_ref().namespace_labels(namespace)
    }

    fn kind_served(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> impl Future<Output = Result<bool, ClusterError>> + Send {
        self.as_ref().kind_served(group, version, kind)
    }

    fn allowed(
        &self,
        user: &UserInfo,
        check: &AccessCheck,
    ) -> impl Future<Output = Result<bool, ClusterError>> + Send {
        self.as_ref().allowed(user, check)
    }
}

/// `apps/v1`, or `v1` for the core group.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}
