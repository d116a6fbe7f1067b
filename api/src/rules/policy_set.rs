//! The GitExportPolicies as the apiserver stores them, decoded one by one, failing closed.
//!
//! The apiserver accepts some objects the Rust types cannot read (an integer out of range, a
//! field a newer CRD added). Decoding the whole list at once would let one such policy empty
//! it, and with it every restriction. Instead each policy is decoded alone; one that cannot be
//! read refuses every export in the namespaces it might govern, until an admin fixes it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::{
    ExportRequest, Requirements, Rule, Violation, Violations, evaluate, matching, selects,
};
use crate::policy::GitExportPolicy;

/// A policy that could not be decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokenPolicy {
    pub name: String,
    /// Why it could not be read.
    pub error: String,
    /// Its `spec.namespaceSelector`, when that part could be read; `None` means the policy
    /// might govern every namespace.
    pub selector: Option<LabelSelector>,
}

/// Every policy, decoded or not.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    pub policies: Vec<GitExportPolicy>,
    pub broken: Vec<BrokenPolicy>,
}

impl PolicySet {
    /// Decodes each policy object (as JSON) on its own.
    pub fn decode<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut set = PolicySet::default();
        for object in objects {
            match GitExportPolicy::deserialize_value(object) {
                Ok(policy) => set.policies.push(policy),
                Err(error) => set.broken.push(BrokenPolicy {
                    name: object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("(unnamed)")
                        .to_owned(),
                    error,
                    selector: object
                        .pointer("/spec/namespaceSelector")
                        .and_then(|s| serde_json::from_value(s.clone()).ok()),
                }),
            }
        }
        set
    }

    /// The readable policies that select a namespace with `labels`, sorted by name.
    pub fn matching(&self, labels: &BTreeMap<String, String>) -> Vec<&GitExportPolicy> {
        matching(&self.policies, labels)
    }

    /// The built-in rules and every policy that selects a namespace with `labels`; a broken
    /// policy that might select it refuses the export.
    pub fn check(
        &self,
        request: &ExportRequest<'_>,
        labels: &BTreeMap<String, String>,
    ) -> Result<Requirements, Violations> {
        let broken: Vec<Violation> = self
            .broken
            .iter()
            .filter(|policy| {
                policy
                    .selector
                    .as_ref()
                    .is_none_or(|s| selects(Some(s), labels))
            })
            .map(|policy| {
                Violation::new(
                    "spec",
                    Rule::InvalidPolicy,
                    format!(
                        "GitExportPolicy {:?} may govern this namespace but cannot be read ({}), \
                         so nothing is exported here until it is fixed",
                        policy.name, policy.error
                    ),
                    format!(
                        "ask a cluster admin to fix GitExportPolicy {:?} (kubectl get \
                         gitexportpolicy {} -o yaml)",
                        policy.name, policy.name
                    ),
                )
            })
            .collect();
        let evaluated = evaluate(request, &self.matching(labels));
        match (evaluated, broken.is_empty()) {
            (Ok(requirements), true) => Ok(requirements),
            (Ok(_), false) => Err(Violations(broken)),
            (Err(mut violations), _) => {
                violations.0.extend(broken);
                Err(violations)
            }
        }
    }
}

impl GitExportPolicy {
    /// Reads one policy from its JSON; the error says which field is wrong.
    pub fn deserialize_value(object: &Value) -> Result<Self, String> {
        serde_json::from_value(object.clone()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GitCommitSpec, GitRepository};
    use serde_json::json;

    fn spec() -> GitCommitSpec {
        GitCommitSpec {
            repository: GitRepository {
                url: "https://git.example.com/ops/repo.git".into(),
                branch: Some("main".into()),
            },
            auth: None,
            commit: None,
            export: Default::default(),
            ttl_seconds_after_finished: None,
            prune: false,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy(name: &str, spec: Value) -> Value {
        json!({
            "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
            "metadata": {"name": name}, "spec": spec
        })
    }

    #[test]
    fn one_unreadable_policy_does_not_empty_the_others() {
        let objects = [
            policy("limits", json!({"limits": {"maxFiles": 4_294_967_296u64}})),
            policy(
                "repos",
                json!({"repositories": [{"url": "https://git.example.com/ops/*"}]}),
            ),
        ];
        let set = PolicySet::decode(&objects);
        assert_eq!(set.policies.len(), 1);
        assert_eq!(set.broken.len(), 1);
        assert_eq!(set.broken[0].name, "limits");
    }

    #[test]
    fn an_unreadable_policy_refuses_the_namespaces_it_may_govern() {
        let objects = [policy(
            "team-a-only",
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}, "limits": {"maxFiles": -1}}),
        )];
        let set = PolicySet::decode(&objects);
        let spec = spec();
        let request = ExportRequest::git_commit("ns", &spec);
        let refused = set
            .check(&request, &labels(&[("team", "a")]))
            .expect_err("governed namespace refused");
        let text = refused.to_string();
        assert!(
            text.contains("team-a-only") && text.contains("cannot be read"),
            "{text}"
        );
        assert!(text.contains("invalid-policy"), "{text}");
        assert!(set.check(&request, &labels(&[("team", "b")])).is_ok());
    }

    #[test]
    fn an_unreadable_selector_governs_every_namespace() {
        let objects = [policy(
            "odd",
            json!({"namespaceSelector": {"matchLabels": 7}}),
        )];
        let set = PolicySet::decode(&objects);
        let spec = spec();
        let request = ExportRequest::git_commit("ns", &spec);
        assert!(set.check(&request, &labels(&[])).is_err());
    }

    #[test]
    fn readable_policies_still_apply() {
        let objects = [policy(
            "repos",
            json!({"repositories": [{"url": "https://git.example.com/other/*"}]}),
        )];
        let set = PolicySet::decode(&objects);
        let spec = spec();
        let request = ExportRequest::git_commit("ns", &spec);
        assert!(set.check(&request, &labels(&[])).is_err());
    }
}
