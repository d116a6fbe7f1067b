//! Fuzzes the admission review handler: arbitrary bytes as a whole review (first byte 0), or
//! as the `spec` of a GitCommit inside a well-formed review (any other first byte), so the
//! fuzzer reaches the rules and not only the JSON parser. Any panic is a finding.
#![no_main]

use std::sync::OnceLock;

use gco_webhook::{Endpoint, Webhook, fixed::FixedCluster};
use libfuzzer_sys::fuzz_target;

fn setup() -> &'static (tokio::runtime::Runtime, Webhook<FixedCluster>) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Webhook<FixedCluster>)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        (runtime, Webhook::new(FixedCluster::default()))
    })
}

fn review_with_spec(spec: &str) -> String {
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u","kind":{{"group":"gco.galos.one","version":"v1","kind":"GitCommit"}},"resource":{{"group":"gco.galos.one","version":"v1","resource":"gitcommits"}},"name":"x","namespace":"team","operation":"CREATE","userInfo":{{"username":"fuzz"}},"object":{{"apiVersion":"gco.galos.one/v1","kind":"GitCommit","metadata":{{"name":"x"}},"spec":{spec}}}}}}}"#
    )
}

fuzz_target!(|data: &[u8]| {
    let (runtime, webhook) = setup();
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let body = if *mode == 0 {
        rest.to_vec()
    } else {
        review_with_spec(&String::from_utf8_lossy(rest)).into_bytes()
    };
    for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
        let reply = runtime.block_on(webhook.review(endpoint, &body));
        assert!(matches!(reply.status, 200 | 400), "status {}", reply.status);
    }
});
