//! OpenSSH's host name wildcards (`*` any run, `?` one byte), matched in linear space and at
//! most `O(pattern × name)` time, whatever the pattern: the patterns come from a tenant's
//! Secret, so a pattern like `*a*a*a*a*b` must not be able to stall a reconcile.

/// Whether `pattern` matches all of `name`, ASCII case ignored (OpenSSH lowercases both the
/// host and its patterns before matching). `*` matches any run of bytes, the empty one too;
/// `?` matches exactly one byte; every other byte matches itself. `!` is not special here:
/// negation belongs to a pattern list, and is the caller's business.
///
/// Greedy with one backtrack point, the last `*` seen. An earlier `*` never needs revisiting:
/// whatever it could absorb, the later one can absorb too. So a failed attempt only moves the
/// last `*` one byte further, each move re-reads at most the whole pattern, and there is no
/// recursion.
pub(super) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // (the pattern index just after the last `*`, the name index that `*` resumes from)
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, n));
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((after_star, from)) => {
                    // Let the last `*` swallow one more byte and try the rest again.
                    p = after_star;
                    n = from + 1;
                    star = Some((after_star, n));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use proptest::prelude::*;

    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        matches(pattern.as_bytes(), name.as_bytes())
    }

    /// The textbook table over (pattern prefix, name prefix): obviously right, and only
    /// quadratic, which makes it the reference the fast matcher is checked against.
    fn reference(pattern: &[u8], name: &[u8]) -> bool {
        let mut row = vec![false; name.len() + 1];
        row[0] = true;
        for &c in pattern {
            let mut next = vec![false; name.len() + 1];
            if c == b'*' {
                next[0] = row[0];
            }
            for j in 1..=name.len() {
                next[j] = match c {
                    b'*' => next[j - 1] || row[j],
                    b'?' => row[j - 1],
                    _ => row[j - 1] && c.eq_ignore_ascii_case(&name[j - 1]),
                };
            }
            row = next;
        }
        row[name.len()]
    }

    #[test]
    fn openssh_semantics() {
        assert!(m("git.example.com", "git.example.com"));
        assert!(!m("git.example.com", "git.example.co"));
        assert!(!m("git.example.co", "git.example.com"));
        assert!(m("*.example.com", "git.example.com"));
        assert!(m("*.example.com", ".example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("git?.corp", "git1.corp"));
        assert!(!m("git?.corp", "git.corp"));
        assert!(!m("git?.corp", "git12.corp"));
        assert!(m("10.0.0.?", "10.0.0.7"));
        assert!(m("[127.0.0.1]:*", "[127.0.0.1]:2222"));
        assert!(m("**a**", "bab"));
        assert!(m("*a*b*c", "xaybzc"));
        assert!(!m("*a*b*c", "xaybzcd"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        // Bytes, not characters: `?` takes one byte of a multi-byte character.
        assert!(m("??", "é"));
        assert!(!m("?", "é"));
    }

    #[test]
    fn case_is_ignored_on_both_sides() {
        assert!(m("GIT.Example.COM", "git.example.com"));
        assert!(m("*.CORP", "Host.corp"));
        assert!(m("host.corp", "HOST.CORP"));
        // Only ASCII folds, as in OpenSSH.
        assert!(!m("É", "é"));
    }

    #[test]
    fn the_backtracking_attack_is_cheap() {
        let pattern = "*a".repeat(150) + "b";
        let name = "a".repeat(255);
        let started = Instant::now();
        assert!(!m(&pattern, &name));
        assert!(!m("*a*a*a*a*a*a*a*a*b", &name));
        // The matcher's own worst case: a run that matches at every offset, then fails.
        let pattern = format!("*{}b", "a".repeat(127));
        assert!(!m(&pattern, &name));
        let elapsed = started.elapsed();
        // Generous on purpose: the recursive matcher took seconds at 40 bytes; a loaded
        // machine must not flake this.
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }

    /// Patterns and names over a small alphabet, so that stars, `?` and literals collide a lot.
    fn pattern_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"aAb.*?".to_vec()), 0..=max)
    }

    fn name_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"aAb.".to_vec()), 0..=max)
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(pattern in pattern_strategy(24), name in name_strategy(24)) {
            prop_assert_eq!(matches(&pattern, &name), reference(&pattern, &name));
        }

        #[test]
        fn any_pattern_up_to_the_cap_is_fast(
            pattern in pattern_strategy(crate::git::known_hosts::MAX_PATTERN_LEN),
            name in name_strategy(255),
        ) {
            let started = Instant::now();
            let _ = matches(&pattern, &name);
            let elapsed = started.elapsed();
            prop_assert!(elapsed < Duration::from_secs(1), "{:?}", elapsed);
        }
    }
}
