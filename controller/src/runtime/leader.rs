//! Lease-based leader election (`coordination.k8s.io/v1`): one replica reconciles, the others
//! wait and take over within the lease duration when it dies.
//!
//! Changes go through optimistic concurrency (create, or replace at the observed
//! resourceVersion), so two candidates can never both believe they hold the lease.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use tracing::{info, warn};

/// How long a lease is valid without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews, and candidates retry.
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// One candidate for the lease `name` in `namespace`.
pub struct LeaderElector {
    leases: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            leases: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Waits until this candidate holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    info!(lease = %self.name, identity = %self.identity, "became leader");
                    return;
                }
                Ok(false) => {}
                Err(error) => warn!(%error, lease = %self.name, "leader election attempt failed"),
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
    }

    /// Renews the lease until it is lost; returns when leadership is gone (the caller must stop
    /// reconciling at once).
    pub async fn hold(&self) {
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => {
                    warn!(lease = %self.name, "lease taken by another replica");
                    return;
                }
                Err(error) => {
                    warn!(%error, lease = %self.name, "lease renewal failed");
                    // Stop before the lease can expire in the eyes of the other replicas.
                    if last_renewal.elapsed() + RETRY_PERIOD >= LEASE_DURATION {
                        return;
                    }
                }
            }
        }
    }

    /// Releases the lease on shutdown, so a successor does not wait for it to expire.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.leases.get_opt(&self.name).await {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() == Some(self.identity.as_str()) {
                spec.holder_identity = None;
                spec.renew_time = None;
                let _ = self
                    .leases
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await;
            }
        }
    }

    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let mine = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        };
        let Some(mut lease) = self.leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(mine),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let current = lease.spec.clone().unwrap_or_default();
        let held_by_me = current.holder_identity.as_deref() == Some(self.identity.as_str());
        let expired = match (&current.holder_identity, &current.renew_time) {
            (Some(_), Some(MicroTime(renewed))) => {
                let duration = current
                    .lease_duration_seconds
                    .map_or(LEASE_DURATION.as_secs() as i64, i64::from);
                now.as_second() > renewed.as_second() + duration
            }
            _ => true,
        };
        if !held_by_me && !expired {
            return Ok(false);
        }
        let acquire_time = if held_by_me {
            current.acquire_time
        } else {
            mine.acquire_time.clone()
        };
        let transitions = current.lease_transitions.unwrap_or(0) + i32::from(!held_by_me);
        lease.spec = Some(LeaseSpec {
            acquire_time,
            lease_transitions: Some(transitions),
            ..mine
        });
        // `replace` carries the resourceVersion we read: a concurrent winner makes this a 409.
        match self
            .leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
