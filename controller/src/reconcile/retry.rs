//! When a failed run is tried again: the `gco.galos.one/retry-policy` and
//! `gco.galos.one/max-retries` annotations, and exponential backoff with jitter.

use std::{collections::BTreeMap, time::Duration};

/// Annotation choosing the retry policy.
pub const RETRY_POLICY_ANNOTATION: &str = "gco.galos.one/retry-policy";
/// Annotation limiting the number of retries after a failure.
pub const MAX_RETRIES_ANNOTATION: &str = "gco.galos.one/max-retries";
/// The first retry waits this long.
pub const MIN_BACKOFF: Duration = Duration::from_secs(5);
/// No retry waits longer than this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The interval of the `fixed` policy.
pub const FIXED_INTERVAL: Duration = Duration::from_secs(30);

/// How failed runs are retried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetryPolicy {
    /// 5 s, 10 s, 20 s … up to 5 min, each ±20 % jitter. The default.
    #[default]
    ExponentialBackoff,
    /// Every 30 s.
    Fixed,
    /// Never: a failure stalls until the spec changes or a reconcile is requested.
    None,
}

/// The retry settings of one object, read from its annotations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetrySettings {
    pub policy: RetryPolicy,
    /// Retries after the first failure; `None` retries forever.
    pub max_retries: Option<u32>,
}

/// An annotation with a value the operator does not understand.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetryAnnotationError {
    #[error(
        "metadata.annotations[{RETRY_POLICY_ANNOTATION}]: {0:?} is not a retry policy; use \
         exponential-backoff (the default), fixed or none"
    )]
    Policy(String),
    #[error(
        "metadata.annotations[{MAX_RETRIES_ANNOTATION}]: {0:?} is not a number of retries; use a \
         whole number such as \"5\", or remove it to retry forever"
    )]
    MaxRetries(String),
}

/// Whether and when to try again after the `failures`-th failure in a row (1 = the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    After(Duration),
    Exhausted,
}

impl RetrySettings {
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
    ) -> Result<Self, RetryAnnotationError> {
        let policy = match annotations.get(RETRY_POLICY_ANNOTATION).map(|v| v.trim()) {
            None | Some("exponential-backoff") => RetryPolicy::ExponentialBackoff,
            Some("fixed") => RetryPolicy::Fixed,
            Some("none") => RetryPolicy::None,
            Some(other) => return Err(RetryAnnotationError::Policy(other.to_owned())),
        };
        let max_retries = match annotations.get(MAX_RETRIES_ANNOTATION) {
            None => None,
            Some(value) => Some(
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| RetryAnnotationError::MaxRetries(value.clone()))?,
            ),
        };
        Ok(Self {
            policy,
            max_retries,
        })
    }

    /// `jitter` is a number in `[0, 1)`, drawn by the caller so this stays pure.
    pub fn decide(&self, failures: u32, jitter: f64) -> RetryDecision {
        let retries_so_far = failures.saturating_sub(1);
        let exhausted = match (self.policy, self.max_retries) {
            (RetryPolicy::None, _) => true,
            (_, Some(max)) => retries_so_far >= max,
            (_, None) => false,
        };
        if exhausted {
            return RetryDecision::Exhausted;
        }
        let delay = match self.policy {
            RetryPolicy::Fixed => FIXED_INTERVAL,
            _ => backoff(retries_so_far, jitter),
        };
        RetryDecision::After(delay)
    }
}

/// `MIN_BACKOFF * 2^attempt`, capped at `MAX_BACKOFF`, with ±20 % jitter kept inside the bounds.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = MIN_BACKOFF.as_secs_f64() * 2f64.powi(attempt.min(16) as i32);
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    let secs = (base * spread).clamp(MIN_BACKOFF.as_secs_f64(), MAX_BACKOFF.as_secs_f64());
    Duration::from_secs_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<RetrySettings, RetryAnnotationError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RetrySettings::from_annotations(&map)
    }

    #[test]
    fn defaults_to_unbounded_exponential_backoff() {
        let s = settings(&[]).expect("valid");
        assert_eq!(s, RetrySettings::default());
        assert_eq!(
            s.decide(1, 0.5),
            RetryDecision::After(Duration::from_secs(5))
        );
        assert_eq!(
            s.decide(2, 0.5),
            RetryDecision::After(Duration::from_secs(10))
        );
        assert_eq!(
            s.decide(3, 0.5),
            RetryDecision::After(Duration::from_secs(20))
        );
        assert_eq!(s.decide(40, 0.5), RetryDecision::After(MAX_BACKOFF));
    }

    #[test]
    fn jitter_stays_within_the_bounds() {
        for attempt in 0..20 {
            for jitter in [0.0, 0.3, 0.99, 1.0] {
                let d = backoff(attempt, jitter);
                assert!(
                    d >= MIN_BACKOFF && d <= MAX_BACKOFF,
                    "{attempt} {jitter}: {d:?}"
                );
            }
        }
        assert!(backoff(3, 0.0) < backoff(3, 0.99));
    }

    #[test]
    fn max_retries_counts_retries_after_the_first_failure() {
        let s = settings(&[(MAX_RETRIES_ANNOTATION, "2")]).expect("valid");
        assert!(matches!(s.decide(1, 0.5), RetryDecision::After(_)));
        assert!(matches!(s.decide(2, 0.5), RetryDecision::After(_)));
        assert_eq!(s.decide(3, 0.5), RetryDecision::Exhausted);
    }

    #[test]
    fn fixed_and_none_policies() {
        let fixed = settings(&[(RETRY_POLICY_ANNOTATION, "fixed")]).expect("valid");
        assert_eq!(fixed.decide(7, 0.1), RetryDecision::After(FIXED_INTERVAL));
        let none = settings(&[(RETRY_POLICY_ANNOTATION, "none")]).expect("valid");
        assert_eq!(none.decide(1, 0.1), RetryDecision::Exhausted);
    }

    #[test]
    fn the_seed_annotations_parse() {
        let s = settings(&[
            (RETRY_POLICY_ANNOTATION, "exponential-backoff"),
            (MAX_RETRIES_ANNOTATION, "5"),
        ])
        .expect("valid");
        assert_eq!(s.max_retries, Some(5));
    }

    #[test]
    fn bad_annotations_name_the_annotation_and_the_fix() {
        let e = settings(&[(RETRY_POLICY_ANNOTATION, "forever")]).expect_err("bad policy");
        assert!(e.to_string().contains("use exponential-backoff"), "{e}");
        let e = settings(&[(MAX_RETRIES_ANNOTATION, "-1")]).expect_err("bad number");
        assert!(e.to_string().contains(MAX_RETRIES_ANNOTATION), "{e}");
    }
}
