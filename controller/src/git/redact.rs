//! Keeping credentials out of everything a human can read: logs, events, status, errors.

/// The one URL redaction of the operator, shared with the admission webhook's messages.
pub use gco_api::redact_url;

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
            "https://***@host:8443/a/b.git"
        );
        assert_eq!(redact_url("u:secret@host:o/r.git"), "***@host:o/r.git");
        assert_eq!(redact_url("https://host/x@y"), "https://host/x@y");
    }

    #[test]
    fn replaces_secrets() {
        assert_eq!(
            redact_secrets("a hunter2x b", ["hunter2x", "ab"]),
            "a [redacted] b"
        );
    }
}
