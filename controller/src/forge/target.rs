//! Which repository on which host a repository URL names, for the forge APIs.

use super::ForgeError;

/// The forge coordinates of a repository URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https` or `http` for web URLs; `https` for ssh URLs (the API is web).
    pub scheme: String,
    pub host: String,
    /// Port of a web URL (an ssh port says nothing about the API's).
    pub port: Option<u16>,
    /// `owner/name`, or `group/subgroup/name` on GitLab; no `.git`.
    pub path: String,
}

impl Target {
    /// Parses `https://host[:port]/owner/name[.git]` or `ssh://user@host[:port]/owner/name[.git]`.
    pub fn parse(url: &str) -> Result<Self, ForgeError> {
        let invalid = |reason: &str| ForgeError::InvalidUrl {
            url: crate::git::redact::redact_url(url),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("write it as https://host/owner/name"))?;
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it has no repository path"))?;
        // Userinfo never matters to the API (and is refused by policy anyway).
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host, port.parse::<u16>().ok())
            }
            _ => (host_port, None),
        };
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        if host.is_empty() || path.split('/').filter(|s| !s.is_empty()).count() < 2 {
            return Err(invalid("expected <host>/<owner>/<name>"));
        }
        let web = matches!(scheme, "http" | "https");
        Ok(Target {
            scheme: if scheme == "http" { "http" } else { "https" }.to_owned(),
            host: host.to_ascii_lowercase(),
            port: if web { port } else { None },
            path: path.to_owned(),
        })
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// The owner part of `owner/name` (GitHub's `head` filter needs it).
    pub fn owner(&self) -> &str {
        self.path.split('/').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_and_ssh_urls() {
        let t = Target::parse("https://github.com/company/gitops.git").unwrap();
        assert_eq!(
            (t.host.as_str(), t.path.as_str(), t.port),
            ("github.com", "company/gitops", None)
        );
        assert_eq!(t.owner(), "company");
        let t = Target::parse("http://127.0.0.1:3000/admin/repo.git").unwrap();
        assert_eq!(t.origin(), "http://127.0.0.1:3000");
        let t = Target::parse("ssh://git@gitlab.com:2222/group/sub/repo.git").unwrap();
        assert_eq!(
            (t.origin().as_str(), t.path.as_str()),
            ("https://gitlab.com", "group/sub/repo")
        );
    }

    #[test]
    fn urls_without_a_repository_are_refused() {
        for url in [
            "github.com/a/b",
            "https://github.com/a",
            "https:///a/b",
            "https://h",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }
}
