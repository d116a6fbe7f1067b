//! A short-lived cache of SubjectAccessReview answers. A GitCommit that is applied again and
//! again (by GitOps tooling, by a script in a loop) asks the same questions each time; without
//! the cache, every admission costs one apiserver round trip per referenced object.
//!
//! Answers live [`ACCESS_CACHE_TTL`]: a revoked `get` permission stops counting that much later
//! at most, the same order as the apiserver's own webhook-authorizer cache.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use gco_api::rules::AccessCheck;
use k8s_openapi::api::authentication::v1::UserInfo;

/// How long an answer is reused.
pub const ACCESS_CACHE_TTL: Duration = Duration::from_secs(5);
/// Beyond this many entries the cache is emptied: a bound on memory, never on correctness.
const MAX_ENTRIES: usize = 10_000;

/// Who asks and what for, exactly as the SubjectAccessReview would say it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    username: Option<String>,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Vec<(String, Vec<String>)>,
    check: AccessCheck,
}

impl Key {
    fn new(user: &UserInfo, check: &AccessCheck) -> Self {
        let mut groups = user.groups.clone().unwrap_or_default();
        groups.sort();
        Self {
            username: user.username.clone(),
            uid: user.uid.clone(),
            groups,
            // A BTreeMap already iterates in key order.
            extra: user.extra.clone().unwrap_or_default().into_iter().collect(),
            check: AccessCheck {
                field: String::new(),
                ..check.clone()
            },
        }
    }
}

/// Recent answers by user and check.
#[derive(Debug, Default)]
pub struct AccessCache {
    answers: Mutex<HashMap<Key, (bool, Instant)>>,
}

impl AccessCache {
    /// A fresh answer, if there is one.
    pub fn get(&self, user: &UserInfo, check: &AccessCheck) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        let (allowed, at) = answers.get(&Key::new(user, check))?;
        (at.elapsed() < ACCESS_CACHE_TTL).then_some(*allowed)
    }

    /// Remembers an answer.
    pub fn put(&self, user: &UserInfo, check: &AccessCheck, allowed: bool) {
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= MAX_ENTRIES {
                answers.retain(|_, (_, at)| at.elapsed() < ACCESS_CACHE_TTL);
                if answers.len() >= MAX_ENTRIES {
                    answers.clear();
                }
            }
            answers.insert(Key::new(user, check), (allowed, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> AccessCheck {
        AccessCheck {
            field: "spec.resourceReferences[0]".into(),
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: "team".into(),
            name: name.into(),
            verb: "get",
        }
    }

    #[test]
    fn answers_are_per_user_and_object() {
        let cache = AccessCache::default();
        let alice = UserInfo {
            username: Some("alice".into()),
            ..Default::default()
        };
        let bob = UserInfo {
            username: Some("bob".into()),
            ..Default::default()
        };
        cache.put(&alice, &check("a"), true);
        assert_eq!(cache.get(&alice, &check("a")), Some(true));
        assert_eq!(cache.get(&bob, &check("a")), None);
        assert_eq!(cache.get(&alice, &check("b")), None);
    }
}
