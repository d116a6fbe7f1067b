//! Percent-encoding for forge API URLs, so that no name (a branch called `a/b`, `%2e%2e` or
//! `x?y#z`) changes which endpoint a request reaches.

use super::ForgeError;

/// `text` as one path segment: every byte but RFC 3986's unreserved characters is
/// percent-encoded, so `/`, `%`, `?` and `#` stay inside the segment. An empty segment, `.`
/// and `..` cannot be made safe (URL parsers resolve `..`, and `%2e%2e` too, as "up one
/// level"), so they are refused; Git forbids them as branch names anyway.
pub fn segment(text: &str) -> Result<String, ForgeError> {
    if matches!(text, "" | "." | "..") {
        return Err(ForgeError::InvalidBranch {
            branch: text.to_owned(),
        });
    }
    Ok(encode(text))
}

/// `text` as a query value, encoded like a segment (any text is fine there).
pub fn query(text: &str) -> String {
    encode(text)
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path a URL parser (the one reqwest uses) makes of `base` + `/branches/` + segment.
    fn resolved(branch: &str) -> String {
        let url = format!(
            "https://forge.example/api/v1/repos/o/r/branches/{}",
            segment(branch).expect(branch)
        );
        reqwest::Url::parse(&url).expect("url").path().to_owned()
    }

    #[test]
    fn names_stay_inside_their_segment() {
        for (branch, path) in [
            ("gco/team-sync", "gco%2Fteam-sync"),
            ("%2e%2e", "%252e%252e"),
            ("%2E%2E/%2e%2e/x", "%252E%252E%2F%252e%252e%2Fx"),
            ("../../x", "..%2F..%2Fx"),
            ("a?b#c", "a%3Fb%23c"),
            ("a b+c", "a%20b%2Bc"),
            ("ünï", "%C3%BCn%C3%AF"),
            ("v1.2_x~y-z", "v1.2_x~y-z"),
        ] {
            assert_eq!(segment(branch).expect(branch), path, "{branch}");
            assert_eq!(
                resolved(branch),
                format!("/api/v1/repos/o/r/branches/{path}"),
                "{branch}"
            );
        }
    }

    #[test]
    fn dot_segments_and_empty_names_are_refused() {
        for branch in ["", ".", ".."] {
            let error = segment(branch).expect_err(branch);
            assert!(error.is_permanent(), "{error}");
            assert!(error.to_string().contains("headBranch"), "{error}");
        }
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query("company:gco/team-sync"), "company%3Agco%2Fteam-sync");
        assert_eq!(query("a&b=c"), "a%26b%3Dc");
    }
}
