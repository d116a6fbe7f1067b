//! The reconcilers and what they share: the [`Context`], the error type, status writing.

mod export;
pub mod gitcommit;
pub mod pullrequest;
mod status;

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
};

use gco_api::{
    ConditionReason, GitExportPolicy,
    rules::{self, ExportRequest, Violations},
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::{
    Api, Client, ResourceExt,
    api::PartialObjectMeta,
    runtime::reflector::{ObjectRef, Store},
};

use crate::{
    events::Announcer,
    git::{Credentials, GitEngine, GitError},
    metrics::Metrics,
    references::KindResolver,
    watches::{Owner, ReferenceWatches},
};

/// The field manager of every status write.
pub const FIELD_MANAGER: &str = "gco-controller";
/// Annotation Flux's CLI sets to request a reconcile (`flux reconcile`).
pub const FLUX_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
/// The operator's own annotation to request a reconcile.
pub const GCO_REQUESTED_AT: &str = "gco.galos.one/requestedAt";

/// Everything reconcilers share.
pub struct Context {
    pub client: Client,
    pub engine: GitEngine,
    pub kinds: KindResolver,
    pub watches: ReferenceWatches,
    pub announcer: Announcer,
    pub metrics: Metrics,
    /// Every GitExportPolicy, kept current by a watch.
    pub policies: Store<GitExportPolicy>,
    /// Namespace labels, for the policies' namespace selectors.
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
    /// Failures in a row per object, for the retry policy; cleared by a success.
    pub failures: Mutex<HashMap<Owner, u32>>,
    /// Test hook: exit the process right after a push, before the status write, to prove that
    /// the retry after a crash neither commits nor appends twice.
    pub crash_after_push: bool,
}

impl Context {
    /// Counts a failure of `owner` and returns how many happened in a row.
    pub fn record_failure(&self, owner: &Owner) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(owner.clone()).or_default();
        *count += 1;
        *count
    }

    /// Evaluates the built-in rules and the policies that select `namespace`, as the
    /// admission webhook does: the webhook may have been off when the object was made, and
    /// policies may have changed since.
    pub fn check_policy(&self, request: &ExportRequest<'_>) -> Result<(), Violations> {
        let labels = self
            .namespaces
            .get(&ObjectRef::new(request.namespace))
            .map(|ns| ns.labels().clone())
            .unwrap_or_default();
        let all = self.policies.state();
        let matching = rules::matching(all.iter().map(|p| p.as_ref()), &labels);
        rules::evaluate(request, &matching).map(|_| ())
    }

    pub fn clear_failures(&self, owner: &Owner) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(owner);
    }
}

/// Errors the controller runtime retries on its own: the API server did not answer. Every
/// failure of the run itself ends in a condition instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of {object}: {source}")]
    StatusWrite {
        object: String,
        #[source]
        source: kube::Error,
    },
}

/// The newest reconcile request: the larger of Flux's and the operator's annotation.
pub fn requested_at(annotations: &BTreeMap<String, String>) -> Option<String> {
    [FLUX_REQUESTED_AT, GCO_REQUESTED_AT]
        .iter()
        .filter_map(|key| annotations.get(*key))
        .max()
        .cloned()
}

/// Reads the credentials Secret named by `spec.auth`, in the object's namespace.
pub async fn credentials(
    client: &Client,
    namespace: &str,
    secret_name: Option<&str>,
) -> Result<Credentials, CredentialsError> {
    let Some(name) = secret_name else {
        return Ok(Credentials::anonymous());
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|source| CredentialsError::Read {
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| CredentialsError::Missing {
            name: name.to_owned(),
        })?;
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    Ok(Credentials::from_secret_data(&data))
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "spec.auth.secretName: Secret {name:?} does not exist in this namespace: create it \
         (keys username/password, bearerToken, token, or identity/known_hosts for ssh)"
    )]
    Missing { name: String },
    #[error("spec.auth.secretName: cannot read Secret {name:?}: {source}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The condition reason for a git error.
pub fn reason_of(error: &GitError) -> ConditionReason {
    match error.reason() {
        "AuthenticationFailed" => ConditionReason::AuthenticationFailed,
        "PushRejected" => ConditionReason::PushRejected,
        "HeadBranchDiverged" => ConditionReason::HeadBranchDiverged,
        "RenderFailed" => ConditionReason::RenderFailed,
        _ => ConditionReason::ProgressingWithRetry,
    }
}
