//! Prometheus metrics: admissions by kind, operation and decision, and review latency.

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// What the webhook answered.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Decision {
    /// Admitted unchanged.
    Allowed,
    /// Admitted with a defaults patch.
    Patched,
    /// Refused by a rule or an access check.
    Denied,
    /// The review itself could not be read (HTTP 400).
    Invalid,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    endpoint: &'static str,
    kind: String,
    operation: String,
    decision: Decision,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to ~1.6 s: in-process reviews take well under a millisecond, SubjectAccessReviews
    // a few.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The webhook's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    admissions: Family<AdmissionLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gco_webhook");
        let admissions = Family::<AdmissionLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "admissions",
            "Admission reviews answered, by endpoint, kind, operation and decision",
            admissions.clone(),
        );
        registry.register(
            "review_duration_seconds",
            "Time to answer one admission review",
            latency.clone(),
        );
        Self {
            registry,
            admissions,
            latency,
        }
    }
}

impl Metrics {
    /// Records one answered review.
    pub fn record(
        &self,
        endpoint: &'static str,
        kind: &str,
        operation: &str,
        decision: Decision,
        seconds: f64,
    ) {
        self.admissions
            .get_or_create(&AdmissionLabels {
                endpoint,
                kind: kind.to_owned(),
                operation: operation.to_owned(),
                decision,
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
