//! Every seed example deserialises into the Rust types and serialises back without losing a
//! field (defaults may be added, nothing may be dropped or changed).

use gco_api::{GitCommit, PullRequest};
use gco_tests::fixtures::seeds;
use serde_json::Value;

/// Every leaf of `documented` is present, with the same value, in `roundtripped`.
fn assert_contained(documented: &Value, roundtripped: &Value, at: &str) {
    match (documented, roundtripped) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let Some(other) = b.get(key) else {
                    panic!("{at}.{key} was dropped by the round trip");
                };
                assert_contained(value, other, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: list length changed");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_contained(x, y, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(documented, roundtripped, "{at} changed in the round trip"),
    }
}

fn roundtrip<K>(value: &Value) -> Value
where
    K: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let typed: K = serde_json::from_value(value.clone()).expect("seed deserialises");
    let back = serde_json::to_value(&typed).expect("serialises");
    let again: K = serde_json::from_value(back.clone()).expect("re-deserialises");
    assert_eq!(typed, again, "serialise → deserialise is not the identity");
    back
}

#[test]
fn every_seed_example_roundtrips_through_the_rust_types() {
    let seeds = seeds().expect("seed fixtures load");
    assert_eq!(seeds.len(), 8, "the seed documentation has eight examples");
    for seed in seeds {
        let back = match seed.kind.as_str() {
            "GitCommit" => roundtrip::<GitCommit>(&seed.value),
            "PullRequest" => roundtrip::<PullRequest>(&seed.value),
            other => panic!("{}: unexpected kind {other}", seed.name),
        };
        assert_contained(&seed.value, &back, &seed.name);
    }
}

#[test]
fn seed_defaults_are_left_to_the_policy_or_built_in() {
    let seeds = seeds().expect("seed fixtures load");
    let drift = seeds
        .iter()
        .find(|s| s.name == "drift-detection")
        .expect("drift seed");
    let drift: GitCommit = serde_json::from_value(drift.value.clone()).expect("deserialises");
    // No branch: a policy's `defaults.branch` may still fill it; else `main`.
    assert_eq!(drift.spec.repository.branch, None);
    assert_eq!(drift.spec.repository.branch(), "main");
    assert_eq!(
        drift.spec.export.write_mode,
        Some(gco_api::WriteMode::Append)
    );
    assert!(
        drift
            .spec
            .export
            .resource_references
            .iter()
            .all(|r| r.strategy == gco_api::Strategy::Dump)
    );
    let pr = seeds
        .iter()
        .find(|s| s.name == "argocd-app-sync")
        .expect("PR seed");
    let pr: PullRequest = serde_json::from_value(pr.value.clone()).expect("deserialises");
    assert_eq!(pr.spec.repository.base_branch(), "main");
    assert_eq!(pr.spec.pull_request.branch_prefix(), "argocd-sync");
}
