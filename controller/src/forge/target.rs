//! Which repository on which host a repository URL names, for the forge APIs.

use gco_api::repo_url::{ForgePath, RepoUrl, Scheme, Syntax};

use super::ForgeError;

/// The forge coordinates of a repository URL: the web origin its API lives under and the
/// repository's path there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL as it may be shown (userinfo redacted), for errors.
    url: String,
    host: String,
    /// `scheme://host[:port]`: `https` unless the URL is `http://`; the port only from a web
    /// URL (an ssh port says nothing about the API's).
    origin: String,
    path: ForgePath,
}

impl Target {
    /// Reads any remote form of [`RepoUrl`]: `https://host[:port]/owner/name[.git]`,
    /// `ssh://git@host[:port]/group/sub/name.git`, `git@host:owner/name.git`, …
    pub fn parse(url: &str) -> Result<Self, ForgeError> {
        let invalid = |reason: String| ForgeError::InvalidUrl {
            url: gco_api::redact_url(url),
            reason,
        };
        let parsed = RepoUrl::parse(url).map_err(|e| invalid(e.to_string()))?;
        let path = parsed.forge_path().map_err(|e| invalid(e.to_string()))?;
        let web = parsed.syntax() == Syntax::Url && parsed.is_http();
        let scheme = if *parsed.scheme() == Scheme::Http {
            "http"
        } else {
            "https"
        };
        let origin = match parsed.port().filter(|_| web) {
            Some(port) => format!("{scheme}://{}:{port}", parsed.url_host()),
            None => format!("{scheme}://{}", parsed.url_host()),
        };
        Ok(Target {
            url: parsed.to_string(),
            host: parsed.host().to_owned(),
            origin,
            path,
        })
    }

    /// The repository URL, userinfo redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The host, lower-cased, without brackets or port.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `owner/name`, or `group/subgroup/name` on GitLab; no `.git`.
    pub fn path(&self) -> &ForgePath {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_remote_form_names_its_forge_repository() {
        for (url, origin, path) in [
            (
                "https://github.com/company/gitops.git",
                "https://github.com",
                "company/gitops",
            ),
            (
                "http://127.0.0.1:3000/admin/repo.git",
                "http://127.0.0.1:3000",
                "admin/repo",
            ),
            (
                "ssh://git@gitlab.com:2222/group/sub/repo.git",
                "https://gitlab.com",
                "group/sub/repo",
            ),
            (
                "git@GitHub.com:company/gitops.git",
                "https://github.com",
                "company/gitops",
            ),
            ("https://[::1]:8443/o/r", "https://[::1]:8443", "o/r"),
            (
                "git://git.example.com/o/r",
                "https://git.example.com",
                "o/r",
            ),
        ] {
            let t = Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!((t.origin(), t.path().as_str()), (origin, path), "{url}");
        }
        let t = Target::parse("https://github.com/company/gitops.git").expect("github");
        assert_eq!((t.host(), t.path().owner()), ("github.com", "company"));
    }

    #[test]
    fn urls_without_a_repository_are_refused_without_their_credentials() {
        for url in [
            "github.com/a/b",
            "/srv/a/b.git",
            "file:///srv/a/b.git",
            "https://github.com/a",
            "https:///a/b",
            "https://h",
            "https://h/a/../b",
            "https://u:secret@h/a/%2e%2e",
        ] {
            let error = Target::parse(url).expect_err(url);
            assert!(error.is_permanent(), "{error}");
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }
}
