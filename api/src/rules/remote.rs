//! Reading a Git remote URL: scheme, host and userinfo, without a URL library, because Git
//! remotes include the scp-like `git@host:path` form that URL parsers reject.

/// The transport a remote uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    Https,
    /// `ssh://…` and the scp-like `[user@]host:path`.
    Ssh,
    Http,
    Git,
    /// `file://…` and plain local paths.
    File,
    /// Anything else, lower-cased (`ftp`, `ext`, …).
    Other(String),
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Https => "https",
            Scheme::Ssh => "ssh",
            Scheme::Http => "http",
            Scheme::Git => "git",
            Scheme::File => "file",
            Scheme::Other(other) => other,
        }
    }
}

/// The parts of a remote URL the rules care about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote<'a> {
    pub scheme: Scheme,
    /// The userinfo before `@`, if any: `git` in `ssh://git@host/x`, `user:token` in
    /// `https://user:token@host/x`.
    pub userinfo: Option<&'a str>,
    /// The host, lower-cased, without port or userinfo; empty for local paths.
    pub host: String,
}

impl Remote<'_> {
    /// Whether the URL carries a secret: any userinfo over HTTP(S)/git (a token is often
    /// passed as the user name), a password over SSH (`user@` alone is just the SSH login).
    pub fn has_credentials(&self) -> bool {
        match (&self.scheme, self.userinfo) {
            (_, None) => false,
            (Scheme::Ssh, Some(userinfo)) => userinfo.contains(':'),
            (_, Some(_)) => true,
        }
    }
}

/// Parses `url` as Git does: `scheme://[userinfo@]host[:port]/path`, or scp-like
/// `[user@]host:path` (a colon before any slash), or a local path.
pub fn parse(url: &str) -> Result<Remote<'_>, &'static str> {
    if url.is_empty() {
        return Err("the URL is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL contains whitespace or control characters");
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "ssh" | "git+ssh" | "ssh+git" => Scheme::Ssh,
            "http" => Scheme::Http,
            "git" => Scheme::Git,
            "file" => Scheme::File,
            other => Scheme::Other(other.to_owned()),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        let host = strip_port(host_port).to_ascii_lowercase();
        if host.is_empty() && scheme != Scheme::File {
            return Err("the URL has no host");
        }
        return Ok(Remote {
            scheme,
            userinfo,
            host,
        });
    }
    let colon = url.find(':');
    let slash = url.find('/');
    match colon {
        // scp-like: `[user@]host:path`, where the colon comes before any slash.
        Some(colon) if slash.is_none_or(|slash| colon < slash) && colon > 0 => {
            let authority = &url[..colon];
            let (userinfo, host) = match authority.rsplit_once('@') {
                Some((userinfo, host)) => (Some(userinfo), host),
                None => (None, authority),
            };
            if host.is_empty() {
                return Err("the URL has no host");
            }
            Ok(Remote {
                scheme: Scheme::Ssh,
                userinfo,
                host: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            })
        }
        _ => Ok(Remote {
            scheme: Scheme::File,
            userinfo: None,
            host: String::new(),
        }),
    }
}

/// `host:443` → `host`; `[::1]:22` → `::1`.
fn strip_port(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

/// `url` with any userinfo replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match parse(url) {
        Ok(Remote {
            userinfo: Some(userinfo),
            ..
        }) => url.replacen(&format!("{userinfo}@"), "***@", 1),
        _ => url.to_owned(),
    }
}
