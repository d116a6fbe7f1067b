//! OpenSSH `known_hosts`, as the auth Secret carries it: the only way an ssh host is trusted.

use base64::Engine as _;
use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};

mod wildcard;

/// Most host patterns one line may list. A line names a host and its aliases; more than
/// this is no real `known_hosts`, only work for every connection.
pub(crate) const MAX_PATTERNS_PER_LINE: usize = 64;
/// Longest host pattern, in bytes: a host name has at most 253, `[host]:port` 261, and a
/// hashed `|1|salt|hash` entry 60. Together with [`MAX_PATTERNS_PER_LINE`] this bounds what
/// matching one line can cost (see `wildcard.rs`).
pub(crate) const MAX_PATTERN_LEN: usize = 300;

/// The parsed entries of a `known_hosts` file.
#[derive(Debug)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    revoked: bool,
    patterns: Vec<String>,
    key: Vec<u8>,
}

impl KnownHosts {
    /// Parses `text`; blank lines, comments and `@cert-authority` lines (host certificates are
    /// not supported) are skipped. An error if no usable entry remains, or if a line has more
    /// than [`MAX_PATTERNS_PER_LINE`] patterns or one longer than [`MAX_PATTERN_LEN`]. Such a
    /// line is refused rather than skipped: skipping it, or only its long pattern, could drop
    /// a `!negation` and so trust a host the line meant to exclude. Errors name the line by
    /// number and never quote it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().map(str::trim).enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let mut revoked = false;
            match first {
                "@cert-authority" => continue,
                "@revoked" => {
                    revoked = true;
                    first = fields.next().unwrap_or_default();
                }
                _ => {}
            }
            let (Some(_key_type), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(key) = base64::engine::general_purpose::STANDARD.decode(key) else {
                continue;
            };
            entries.push(Entry {
                revoked,
                patterns: patterns(first, index + 1)?,
                key,
            });
        }
        if entries.iter().all(|e| e.revoked) {
            return Err("`known_hosts` holds no host key (expected lines like `host ssh-ed25519 AAAA…`, as `ssh-keyscan` prints)".into());
        }
        Ok(KnownHosts { entries })
    }

    /// Ok if `key` (the raw public key blob the server sent) is listed for `host`/`port` and
    /// not revoked. A host listed with other keys only means the key changed: refused too.
    pub(crate) fn verify(&self, host: &str, port: Option<u16>, key: &[u8]) -> Result<(), String> {
        // OpenSSH lowercases the host before looking it up, hashed entries included.
        let host = host.to_ascii_lowercase();
        let name = match port {
            Some(port) if port != 22 => format!("[{host}]:{port}"),
            _ => host,
        };
        let for_host: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| matches_host(&e.patterns, &name))
            .collect();
        if for_host
            .iter()
            .any(|e| e.revoked && memcmp::eq_len(&e.key, key))
        {
            return Err("the host key is marked @revoked in `known_hosts`".into());
        }
        if for_host
            .iter()
            .any(|e| !e.revoked && memcmp::eq_len(&e.key, key))
        {
            return Ok(());
        }
        if for_host.is_empty() {
            Err(format!(
                "{name} is not in the auth Secret's `known_hosts` (add the line `ssh-keyscan` prints for it)"
            ))
        } else {
            Err(format!(
                "the host key of {name} does not match `known_hosts`: it changed, or someone is in the middle"
            ))
        }
    }
}

/// The comma-separated patterns of line `number`, within the limits.
fn patterns(list: &str, number: usize) -> Result<Vec<String>, String> {
    let patterns: Vec<&str> = list.split(',').collect();
    if patterns.len() > MAX_PATTERNS_PER_LINE {
        return Err(format!(
            "line {number} of `known_hosts` lists {} host patterns; at most {MAX_PATTERNS_PER_LINE} are accepted",
            patterns.len()
        ));
    }
    if let Some(long) = patterns.iter().find(|p| p.len() > MAX_PATTERN_LEN) {
        return Err(format!(
            "line {number} of `known_hosts` has a host pattern of {} bytes; at most {MAX_PATTERN_LEN} are accepted",
            long.len()
        ));
    }
    Ok(patterns.into_iter().map(str::to_owned).collect())
}

/// OpenSSH's rule: some positive pattern matches and no negated one does.
fn matches_host(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if pattern_matches(negated, name) {
                return false;
            }
        } else if pattern_matches(pattern, name) {
            matched = true;
        }
    }
    matched
}

fn pattern_matches(pattern: &str, name: &str) -> bool {
    if let Some(hashed) = pattern.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    wildcard::matches(pattern.as_bytes(), name.as_bytes())
}

/// `|1|salt|hash`: HMAC-SHA1 of the name keyed with the salt (`HashKnownHosts yes`).
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
        return false;
    };
    let digest = PKey::hmac(&salt).and_then(|key| {
        let mut signer = Signer::new(MessageDigest::sha1(), &key)?;
        signer.update(name.as_bytes())?;
        signer.sign_to_vec()
    });
    digest.is_ok_and(|d| d.len() == hash.len() && memcmp::eq(&d, &hash))
}

/// `memcmp::eq` panics on different lengths; keys of another type simply differ.
mod memcmp {
    pub(super) fn eq_len(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && openssl::memcmp::eq(a, b)
    }
    pub(super) use openssl::memcmp::eq;
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn key() -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .expect("b64")
    }

    #[test]
    fn plain_port_and_wildcard_entries() {
        let known = KnownHosts::parse(&format!(
            "# comment\ngit.example.com ssh-ed25519 {KEY}\n[127.0.0.1]:2222 ssh-ed25519 {KEY}\n*.corp,!bad.corp ssh-ed25519 {KEY}\n"
        ))
        .expect("parse");
        assert!(known.verify("git.example.com", None, &key()).is_ok());
        assert!(known.verify("git.example.com", Some(22), &key()).is_ok());
        assert!(known.verify("127.0.0.1", Some(2222), &key()).is_ok());
        assert!(known.verify("127.0.0.1", None, &key()).is_err());
        assert!(known.verify("x.corp", None, &key()).is_ok());
        assert!(known.verify("bad.corp", None, &key()).is_err());
        let changed = known
            .verify("git.example.com", None, b"other")
            .expect_err("changed");
        assert!(changed.contains("does not match"), "{changed}");
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` form of "git.example.com", salt = 20 zero bytes.
        let salt = [0u8; 20];
        let key_hmac = PKey::hmac(&salt).expect("key");
        let mut signer = Signer::new(MessageDigest::sha1(), &key_hmac).expect("signer");
        signer.update(b"git.example.com").expect("update");
        let hash = signer.sign_to_vec().expect("sign");
        let engine = base64::engine::general_purpose::STANDARD;
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY}",
            engine.encode(salt),
            engine.encode(hash)
        );
        let known = KnownHosts::parse(&line).expect("parse");
        assert!(known.verify("git.example.com", None, &key()).is_ok());
        assert!(known.verify("other.example.com", None, &key()).is_err());
    }

    #[test]
    fn host_names_match_case_insensitively() {
        let known =
            KnownHosts::parse(&format!("Git.Example.COM,*.Corp ssh-ed25519 {KEY}")).expect("parse");
        assert!(known.verify("git.example.com", None, &key()).is_ok());
        assert!(known.verify("GIT.EXAMPLE.com", None, &key()).is_ok());
        assert!(known.verify("Build.CORP", None, &key()).is_ok());
    }

    #[test]
    fn too_many_or_too_long_patterns_are_refused_without_quoting_them() {
        let many = vec!["h.example"; MAX_PATTERNS_PER_LINE + 1].join(",");
        let error = KnownHosts::parse(&format!("# c\n{many} ssh-ed25519 {KEY}")).expect_err("many");
        assert!(
            error.contains("line 2") && error.contains("65 host patterns"),
            "{error}"
        );
        assert!(!error.contains("h.example"), "{error}");
        let at_cap = vec!["h.example"; MAX_PATTERNS_PER_LINE].join(",");
        assert!(KnownHosts::parse(&format!("{at_cap} ssh-ed25519 {KEY}")).is_ok());

        let secret = "s".repeat(MAX_PATTERN_LEN + 1);
        // Negated too: dropping a long `!pattern` would widen what the line trusts.
        let line = format!("*.corp,!{secret} ssh-ed25519 {KEY}");
        let error = KnownHosts::parse(&line).expect_err("long");
        assert!(
            error.contains("line 1") && error.contains("302 bytes"),
            "{error}"
        );
        assert!(!error.contains("sss"), "{error}");
        let at_cap = "s".repeat(MAX_PATTERN_LEN);
        assert!(KnownHosts::parse(&format!("{at_cap} ssh-ed25519 {KEY}")).is_ok());
    }

    #[test]
    fn a_line_of_backtracking_patterns_costs_next_to_nothing() {
        // The worst a line may hold for the matcher in `wildcard.rs`: a star, then a run that
        // matches at every offset of the host and fails at its end, half the host long.
        let worst = format!("*{}b{}", "a".repeat(127), "a".repeat(MAX_PATTERN_LEN - 129));
        let line = vec![worst.as_str(); MAX_PATTERNS_PER_LINE].join(",");
        let known = KnownHosts::parse(&format!("{line} ssh-ed25519 {KEY}")).expect("parse");
        let host = "a".repeat(255);
        let started = std::time::Instant::now();
        assert!(known.verify(&host, None, &key()).is_err());
        let elapsed = started.elapsed();
        assert!(
            // Generous on purpose: it separates linear from exponential, without flaking.
            elapsed < std::time::Duration::from_secs(1),
            "{elapsed:?}"
        );
    }
}
