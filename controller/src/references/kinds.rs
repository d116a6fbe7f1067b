//! Resolving a referenced kind through discovery, remembering the answers.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use kube::{
    Client,
    api::ApiResource,
    core::GroupVersionKind,
    discovery::{self, ApiCapabilities, Scope},
};

/// How long a "no such kind" answer is believed: a CRD may be installed a moment later.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// A referenced kind, resolved by discovery.
#[derive(Clone, Debug)]
pub struct ResolvedKind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Resolves kinds through discovery, remembering answers.
#[derive(Default)]
pub struct KindResolver {
    known: Mutex<HashMap<GroupVersionKind, (Option<ResolvedKind>, Instant)>>,
}

impl KindResolver {
    pub async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<Option<ResolvedKind>, kube::Error> {
        if let Some((answer, at)) = self.lock().get(gvk)
            && (answer.is_some() || at.elapsed() < NEGATIVE_TTL)
        {
            return Ok(answer.clone());
        }
        let answer = match discovery::pinned_kind(client, gvk).await {
            Ok((resource, ApiCapabilities { scope, .. })) => Some(ResolvedKind {
                resource,
                namespaced: scope == Scope::Namespaced,
            }),
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(other) => return Err(other),
        };
        self.lock()
            .insert(gvk.clone(), (answer.clone(), Instant::now()));
        Ok(answer)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<GroupVersionKind, (Option<ResolvedKind>, Instant)>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep using it.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
