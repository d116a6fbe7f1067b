//! The repository URLs the git engine accepts: a [`gco_api::RepoUrl`] in a scheme libgit2
//! speaks, with no credentials in it (they belong in the auth Secret, not in a URL that ends up
//! in logs and on disk).

use gco_api::repo_url::{self, Scheme, Syntax};

use super::GitError;

/// A repository URL the engine accepted: `https://`, `http://`, `ssh://` (also `git+ssh://`),
/// scp-like `user@host:path`, `git://` or `file://`. Which of these a user may use is policy's
/// decision, not the engine's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoUrl(repo_url::RepoUrl);

impl RepoUrl {
    pub fn parse(url: &str) -> Result<Self, GitError> {
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: repo_url::redact_url(url),
            reason: reason.to_owned(),
        };
        let parsed = repo_url::RepoUrl::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if parsed.syntax() == Syntax::LocalPath {
            return Err(invalid(
                "write it as https://host/path, ssh://host/path, user@host:path or file:///path",
            ));
        }
        if matches!(parsed.scheme(), Scheme::Other(_)) {
            return Err(invalid("the scheme must be https, ssh, http, git or file"));
        }
        // A user name is how ssh URLs name the account (`ssh://git@host`); anything more is a
        // credential in a URL.
        if parsed.has_credentials() {
            return Err(invalid(
                "it carries credentials; put them in the auth Secret instead",
            ));
        }
        Ok(RepoUrl(parsed))
    }

    /// The URL as given to libgit2.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL without userinfo, for logs, events and errors.
    pub fn redacted(&self) -> String {
        self.0.to_string()
    }

    /// The host, lower-cased, without brackets or port.
    pub fn host(&self) -> &str {
        self.0.host()
    }

    /// The port, if the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.0.port()
    }

    pub fn is_http(&self) -> bool {
        self.0.is_http()
    }

    pub fn is_ssh(&self) -> bool {
        self.0.is_ssh()
    }

    /// libgit2's local transport does not support shallow fetches.
    pub fn supports_shallow(&self) -> bool {
        *self.0.scheme() != Scheme::File
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let u = RepoUrl::parse("https://git.example.com:8443/a/b.git").expect("https");
        assert_eq!(
            (u.host(), u.port(), u.is_http()),
            ("git.example.com", Some(8443), true)
        );
        let s = RepoUrl::parse("ssh://git@127.0.0.1:2222/srv/r.git").expect("ssh");
        assert_eq!(
            (s.host(), s.port(), s.is_ssh()),
            ("127.0.0.1", Some(2222), true)
        );
        assert_eq!(s.as_str(), "ssh://git@127.0.0.1:2222/srv/r.git");
        assert_eq!(s.redacted(), "ssh://***@127.0.0.1:2222/srv/r.git");
        let scp = RepoUrl::parse("git@github.com:o/r.git").expect("scp");
        assert!(scp.is_ssh());
        assert!(
            RepoUrl::parse("git+ssh://git@h/r.git")
                .expect("git+ssh")
                .is_ssh()
        );
        let file = RepoUrl::parse("file:///tmp/x.git").expect("file");
        assert!(!file.supports_shallow());
        for bad in [
            "https://u:p@h/x",
            "https://tok@h/x",
            "ssh://git:p@h/x",
            "u:p@h:x.git",
            "ftp://h/x",
            "https:///x",
            "https://h:port/x",
            "nope",
            "/srv/local.git",
        ] {
            let error = RepoUrl::parse(bad).expect_err(bad);
            assert!(matches!(error, GitError::InvalidUrl { .. }), "{error}");
            assert!(!error.to_string().contains(":p@"), "{error}");
        }
    }
}
