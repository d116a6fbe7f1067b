//! Repository URLs: what scheme, which host and port, and the form safe to show.

use super::{
    GitError,
    redact::{has_userinfo, redact_url},
};

/// A repository URL the engine accepted: no password in it, a scheme libgit2 speaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoUrl {
    url: String,
    scheme: Scheme,
    host: String,
    port: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scheme {
    Https,
    Http,
    Ssh,
    Git,
    File,
}

impl RepoUrl {
    /// Parses `url`: `https://`, `http://`, `ssh://`, scp-like `user@host:path`, `git://`, or
    /// `file://`. Which of these a user may use is policy's decision, not the engine's.
    pub fn parse(url: &str) -> Result<Self, GitError> {
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_owned(),
        };
        if url.chars().any(char::is_control) {
            return Err(invalid("it contains control characters"));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Self::parse_scp_like(url).ok_or_else(|| {
                invalid("write it as https://host/path, ssh://host/path or user@host:path")
            });
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            "ssh" => Scheme::Ssh,
            "git" => Scheme::Git,
            "file" => Scheme::File,
            _ => return Err(invalid("the scheme must be https, ssh, http, git or file")),
        };
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        // A user name is how ssh URLs name the account (`ssh://git@host`); anything more is a
        // credential in a URL, which ends up in logs and on disk.
        if has_userinfo(url) && (scheme != Scheme::Ssh || userinfo.is_some_and(|u| u.contains(':')))
        {
            return Err(invalid(
                "it carries credentials; put them in the auth Secret instead",
            ));
        }
        let (host, port) =
            split_port(hostport).ok_or_else(|| invalid("the port is not a number"))?;
        if host.is_empty() && scheme != Scheme::File {
            return Err(invalid("it names no host"));
        }
        Ok(RepoUrl {
            url: url.to_owned(),
            scheme,
            host: host.to_owned(),
            port,
        })
    }

    fn parse_scp_like(url: &str) -> Option<Self> {
        let (userhost, path) = url.split_once(':')?;
        if path.is_empty() || userhost.contains('/') {
            return None;
        }
        let host = userhost.rsplit_once('@').map_or(userhost, |(_, h)| h);
        Some(RepoUrl {
            url: url.to_owned(),
            scheme: Scheme::Ssh,
            host: host.to_owned(),
            port: None,
        })
    }

    /// The URL as given to libgit2.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL without userinfo, for logs, events and errors.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, if the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn is_http(&self) -> bool {
        matches!(self.scheme, Scheme::Https | Scheme::Http)
    }

    pub fn is_ssh(&self) -> bool {
        self.scheme == Scheme::Ssh
    }

    /// libgit2's local transport does not support shallow fetches.
    pub fn supports_shallow(&self) -> bool {
        self.scheme != Scheme::File
    }
}

fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    // `[::1]:22` and `[::1]`
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None => Some((host, None)),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((hostport, None)),
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
        let scp = RepoUrl::parse("git@github.com:o/r.git").expect("scp");
        assert!(scp.is_ssh());
        assert!(RepoUrl::parse("file:///tmp/x.git").is_ok());
        for bad in [
            "https://u:p@h/x",
            "https://tok@h/x",
            "ftp://h/x",
            "https:///x",
            "nope",
        ] {
            let error = RepoUrl::parse(bad).expect_err(bad);
            assert!(!error.to_string().contains("u:p"), "{error}");
        }
    }
}
