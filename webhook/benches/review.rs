//! In-process latency of one admission review (budget in docs/performance.md: p99 under 1 ms): criterion's
//! statistics for `/validate` and `/mutate`, then p50/p99 over 20,000 timed reviews.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use gco_webhook::{Endpoint, Webhook, fixed::FixedCluster};

/// A typical GitCommit (the seed `prod-cluster-sync`): one file, three references.
pub const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"gco.galos.one","version":"v1","kind":"GitCommit"},"resource":{"group":"gco.galos.one","version":"v1","resource":"gitcommits"},"name":"prod-cluster-sync","namespace":"git-change-operator-system","operation":"CREATE","userInfo":{"username":"alice","groups":["dev"]},"object":{"apiVersion":"gco.galos.one/v1","kind":"GitCommit","metadata":{"name":"prod-cluster-sync","namespace":"git-change-operator-system"},"spec":{"repository":{"url":"https://github.com/company/k8s-multi-cluster-config.git","branch":"main"},"auth":{"secretName":"git-credentials"},"commit":{"author":"Production Cluster <prod-k8s@company.com>","message":"Sync production cluster configuration"},"writeMode":"overwrite","files":[{"path":"clusters/production/cluster-info.yaml","content":"cluster:\n  name: production-east-1\n"}],"resourceReferences":[{"name":"app-config","apiVersion":"v1","kind":"ConfigMap","namespace":"production","strategy":"fields","output":{"path":"clusters/production/applications/"}},{"name":"infra-config","apiVersion":"v1","kind":"ConfigMap","namespace":"kube-system","strategy":"dump","output":{"path":"clusters/production/infrastructure/infra-config.yaml"}},{"name":"network-policies","apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","namespace":"production","strategy":"dump","output":{"path":"clusters/production/network-policies.yaml"}}]}}}}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime")
}

fn reviews(c: &mut Criterion) {
    let runtime = runtime();
    let webhook = Webhook::new(FixedCluster::default());
    c.bench_function("validate", |b| {
        b.to_async(&runtime)
            .iter(|| webhook.review(Endpoint::Validate, REVIEW.as_bytes()))
    });
    c.bench_function("mutate", |b| {
        b.to_async(&runtime)
            .iter(|| webhook.review(Endpoint::Mutate, REVIEW.as_bytes()))
    });
}

/// p50 and p99 of `count` reviews, each timed on its own.
fn percentiles(endpoint: Endpoint, count: usize) -> (Duration, Duration) {
    let runtime = runtime();
    let webhook = Webhook::new(FixedCluster::default());
    let mut samples: Vec<Duration> = runtime.block_on(async {
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let reply = webhook.review(endpoint, REVIEW.as_bytes()).await;
            samples.push(started.elapsed());
            assert_eq!(reply.status, 200);
        }
        samples
    });
    samples.sort();
    (samples[count / 2], samples[count * 99 / 100])
}

criterion_group!(benches, reviews);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    for (name, endpoint) in [
        ("validate", Endpoint::Validate),
        ("mutate", Endpoint::Mutate),
    ] {
        let (p50, p99) = percentiles(endpoint, 20_000);
        println!(
            "in-process {name}: p50 {p50:?}, p99 {p99:?} over 20000 reviews (budget: p99 < 1 ms)"
        );
    }
}
