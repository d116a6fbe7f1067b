//! Keeping credentials out of everything a human can read: logs, events, status, errors.

/// `url` without userinfo: `https://user:pw@host/x` → `https://host/x`. Anything that does not
/// parse as `scheme://…` is returned unchanged except that a `user:password@` prefix is cut.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let stripped = match authority.rfind('@') {
        // scp-like `git@host:path` names a user, not a secret; keep it only when it is
        // a plain user name without a password.
        Some(at) if scheme.is_some() || authority[..at].contains(':') => {
            format!("{}{}", &authority[at + 1..], &rest[authority_end..])
        }
        _ => rest.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{stripped}"),
        None => stripped,
    }
}

/// Whether `url` carries userinfo (`user@` or `user:password@`) in a `scheme://` URL.
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://").is_some_and(|(_, rest)| {
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        authority.contains('@')
    })
}

/// `text` with every occurrence of each secret replaced by `[redacted]`. Secrets shorter than
/// four bytes are ignored: they would redact ordinary words and are not worth stealing.
pub fn redact_secrets<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.len() >= 4 {
            out = out.replace(secret, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_userinfo() {
        assert_eq!(
            redact_url("https://u:p@host:8443/a/b.git"),
            "https://host:8443/a/b.git"
        );
        assert_eq!(redact_url("https://tok@host/x"), "https://host/x");
        assert_eq!(redact_url("ssh://git@host:22/x"), "ssh://host:22/x");
        assert_eq!(redact_url("https://host/x@y"), "https://host/x@y");
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("u:secret@host:o/r.git"), "host:o/r.git");
        assert!(has_userinfo("https://u:p@h/x"));
        assert!(!has_userinfo("https://h/x@y"));
    }

    #[test]
    fn replaces_secrets() {
        assert_eq!(
            redact_secrets("a hunter2x b", ["hunter2x", "ab"]),
            "a [redacted] b"
        );
    }
}
