//! One AdmissionReview in, one out: parsing, dispatch by endpoint and kind, metrics.

use std::{sync::Arc, time::Instant};

use gco_api::{GROUP, rules::ExportKind};
use kube::core::{
    DynamicObject,
    admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation},
};
use serde_json::Value;
use tracing::{debug, info, warn};

use crate::{
    cluster::Cluster,
    metrics::{Decision, Metrics},
    mutate, validate,
};

/// The only AdmissionReview version the webhook is registered for.
const REVIEW_API_VERSION: &str = "admission.k8s.io/v1";

/// Which handler a review is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Mutate,
    Validate,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Endpoint::Mutate => "mutate",
            Endpoint::Validate => "validate",
        }
    }
}

/// An HTTP answer: status code and JSON (or, for a 400, plain text) body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The webhook: a cluster view and metrics.
pub struct Webhook<C> {
    pub cluster: C,
    pub metrics: Arc<Metrics>,
}

impl<C: Cluster> Webhook<C> {
    pub fn new(cluster: C) -> Self {
        Self {
            cluster,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Answers the AdmissionReview in `body`. Never panics: unreadable input is a 400.
    pub async fn review(&self, endpoint: Endpoint, body: &[u8]) -> Reply {
        let started = Instant::now();
        let request = match parse(body) {
            Ok(request) => request,
            Err(reason) => {
                self.metrics.record(
                    endpoint.as_str(),
                    "unknown",
                    "unknown",
                    Decision::Invalid,
                    started.elapsed().as_secs_f64(),
                );
                // The reason is for the caller only: serde's messages quote input values.
                warn!(endpoint = endpoint.as_str(), "unreadable admission review");
                return Reply {
                    status: 400,
                    body: reason.into_bytes(),
                };
            }
        };
        let (response, decision) = self.answer(endpoint, &request).await;
        let kind = match request.kind.kind.as_str() {
            known @ ("GitCommit" | "PullRequest" | "GitExportPolicy") => known,
            _ => "other",
        };
        let operation = operation_name(&request.operation);
        self.metrics.record(
            endpoint.as_str(),
            kind,
            operation,
            decision,
            started.elapsed().as_secs_f64(),
        );
        let namespace = request.namespace.as_deref().unwrap_or_default();
        let (endpoint, name) = (endpoint.as_str(), &request.name);
        if decision == Decision::Denied {
            info!(endpoint, kind, namespace, %name, operation, "denied");
        } else {
            debug!(endpoint, kind, namespace, %name, operation, ?decision, "admitted");
        }
        match serde_json::to_vec(&response.into_review()) {
            Ok(body) => Reply { status: 200, body },
            Err(error) => Reply {
                status: 500,
                body: format!("cannot encode the AdmissionReview response: {error}").into_bytes(),
            },
        }
    }

    async fn answer(
        &self,
        endpoint: Endpoint,
        request: &AdmissionRequest<DynamicObject>,
    ) -> (AdmissionResponse, Decision) {
        let response = AdmissionResponse::from(request);
        if request.kind.group != GROUP
            || !matches!(request.operation, Operation::Create | Operation::Update)
        {
            return (response, Decision::Allowed);
        }
        let Some(object) = request.object.as_ref() else {
            return deny(response, "the review has no object to admit");
        };
        // DynamicObject keeps everything but metadata and type in `data`: `spec` is there.
        let object = &object.data;
        let kind = request.kind.kind.as_str();
        let namespace = request.namespace.as_deref().unwrap_or_default();
        match (endpoint, ExportKind::from_kind(kind)) {
            (Endpoint::Mutate, Some(export)) => {
                let all = match self.cluster.policies() {
                    Ok(all) => all,
                    Err(error) => return deny(response, format!("{error}; retry in a moment")),
                };
                let labels = match self.cluster.namespace_labels(namespace).await {
                    Ok(labels) => labels,
                    Err(error) => return deny(response, format!("{error}; retry in a moment")),
                };
                let policies = all.matching(&labels);
                match mutate::defaults_patch(export, namespace, object, &policies) {
                    Ok(None) => (response, Decision::Allowed),
                    Ok(Some(patch)) => match response.clone().with_patch(patch) {
                        Ok(patched) => (patched, Decision::Patched),
                        Err(error) => deny(response, error.to_string()),
                    },
                    Err(reason) => deny(response, reason),
                }
            }
            (Endpoint::Validate, Some(export)) => {
                let old = request.old_object.as_ref().map(|o| &o.data);
                if request.operation == Operation::Update && validate::spec_unchanged(object, old) {
                    return (response, Decision::Allowed);
                }
                match validate::validate_export(
                    &self.cluster,
                    export,
                    namespace,
                    &request.user_info,
                    object,
                )
                .await
                {
                    Ok(()) => (response, Decision::Allowed),
                    Err(denied) => deny(response, denied.0),
                }
            }
            (Endpoint::Validate, None) if kind == "GitExportPolicy" => {
                match validate::validate_policy(object) {
                    Ok(()) => (response, Decision::Allowed),
                    Err(denied) => deny(response, denied.0),
                }
            }
            _ => (response, Decision::Allowed),
        }
    }
}

fn deny(response: AdmissionResponse, message: impl ToString) -> (AdmissionResponse, Decision) {
    let mut denied = response.deny(message);
    denied.result.code = 403;
    denied.result.reason = "Forbidden".to_owned();
    (denied, Decision::Denied)
}

/// Reads a v1 AdmissionReview with a request; anything else is the caller's error (400).
fn parse(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if api_version != REVIEW_API_VERSION || kind != "AdmissionReview" {
        return Err(format!(
            "expected an {REVIEW_API_VERSION} AdmissionReview, got apiVersion {:?} kind {:?}",
            shorten(api_version),
            shorten(kind)
        ));
    }
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(value)
        .map_err(|error| format!("the AdmissionReview cannot be read: {error}"))?;
    review
        .try_into()
        .map_err(|_| "the AdmissionReview has no request".to_owned())
}

fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

fn shorten(text: &str) -> String {
    text.chars().take(64).collect()
}
