//! One model of a Git repository URL, shared by the policy rules, the git engine and the forge
//! clients, so that all three agree on what a remote names and show it the same redacted way.
//!
//! ```text
//! https://[userinfo@]host[:port]/path    also http://, git://, file://[host]/path
//! ssh://[user@]host[:port]/path          also git+ssh:// and ssh+git://
//! [user@]host:path                       scp-like: a `:` comes before any `/`
//! /srv/repo.git, ./a:b, repo             local paths: no `:` before the first `/`
//! ```
//! No URL library: scp-like remotes are not URLs, and which form a string is follows Git's
//! rules, not a URL parser's.

mod forge_path;

use std::{fmt, net::Ipv6Addr, ops::Range};

pub use forge_path::{ForgePath, ForgePathError};

/// What replaces userinfo in everything a human reads.
const REDACTED: &str = "***";

/// The transport a remote uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    Http,
    /// `ssh://`, `git+ssh://`, `ssh+git://` and the scp-like `[user@]host:path`.
    Ssh,
    Git,
    /// `file://…` and plain local paths.
    File,
    /// Any other scheme (`ftp`, `ext`, …).
    Other(OtherScheme),
}

/// A scheme the model does not know, lower-cased. Only [`RepoUrl::parse`] makes one, so it is
/// never one of the known schemes spelled differently.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OtherScheme(String);

impl OtherScheme {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Scheme {
    fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            "ssh" | "git+ssh" | "ssh+git" => Scheme::Ssh,
            "git" => Scheme::Git,
            "file" => Scheme::File,
            other => Scheme::Other(OtherScheme(other.to_owned())),
        }
    }

    /// The scheme as written in a URL (`ssh` for every ssh spelling).
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Ssh => "ssh",
            Scheme::Git => "git",
            Scheme::File => "file",
            Scheme::Other(other) => other.as_str(),
        }
    }
}

/// Which of Git's three remote syntaxes a string uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// `scheme://…`.
    Url,
    /// `[user@]host:path`.
    ScpLike,
    /// A path on the local file system.
    LocalPath,
}

/// Why a string is not a repository URL. Messages never repeat the URL's text: a mistyped
/// URL can hold a token where the port or host should be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the URL is empty")]
    Empty,
    #[error("the URL contains whitespace or control characters")]
    Whitespace,
    #[error("the URL has no host")]
    NoHost,
    #[error(
        "the URL's host is neither a host name (letters, digits, `-`, `.`, `_`) nor an IPv6 address in brackets"
    )]
    InvalidHost,
    #[error("the URL's port is not a number from 1 to 65535")]
    InvalidPort,
    #[error("the scp-like URL names no path after `host:`")]
    NoPath,
    #[error(
        "the URL's path has a `.` or `..` segment or an encoded slash (`%2e`, `%2f`, `%5c`): \
         a server could resolve it to another repository than the one a policy allows; write \
         the repository's path plainly"
    )]
    DotSegment,
}

/// A parsed repository URL. Its [`Display`](fmt::Display) and [`Debug`] forms are redacted;
/// only [`as_str`](Self::as_str) gives the text as written.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl {
    raw: String,
    syntax: Syntax,
    scheme: Scheme,
    /// Where the userinfo (before the last `@` of the authority) is in `raw`.
    userinfo: Option<Range<usize>>,
    /// Lower-cased, without brackets or port; empty for local repositories.
    host: String,
    port: Option<u16>,
    /// Where the path is in `raw`.
    path: Range<usize>,
}

impl RepoUrl {
    /// Parses `text` as Git reads a remote: a URL when it starts with a scheme name and `://`,
    /// scp-like when a `:` comes before any `/`, else a local path.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let url = Self::parse_syntax(text)?;
        if has_dot_segment(url.path()) {
            return Err(UrlError::DotSegment);
        }
        Ok(url)
    }

    fn parse_syntax(text: &str) -> Result<Self, UrlError> {
        if text.is_empty() {
            return Err(UrlError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Whitespace);
        }
        if let Some((scheme, _)) = text.split_once("://")
            && is_scheme_name(scheme)
        {
            return Self::parse_url(text, scheme);
        }
        let colon = text.find(':');
        let slash = text.find('/');
        match colon {
            Some(colon) if slash.is_none_or(|slash| colon < slash) => Self::parse_scp_like(text),
            _ => Ok(RepoUrl {
                raw: text.to_owned(),
                syntax: Syntax::LocalPath,
                scheme: Scheme::File,
                userinfo: None,
                host: String::new(),
                port: None,
                path: 0..text.len(),
            }),
        }
    }

    fn parse_url(text: &str, scheme_name: &str) -> Result<Self, UrlError> {
        let scheme = Scheme::from_name(scheme_name);
        let start = scheme_name.len() + "://".len();
        let end = text[start..].find('/').map_or(text.len(), |at| start + at);
        let (userinfo, host_start) = match text[start..end].rfind('@') {
            Some(at) => (Some(start..start + at), start + at + 1),
            None => (None, start),
        };
        let (host, port) = host_and_port(&text[host_start..end])?;
        if host.is_empty() && scheme != Scheme::File {
            return Err(UrlError::NoHost);
        }
        Ok(RepoUrl {
            raw: text.to_owned(),
            syntax: Syntax::Url,
            scheme,
            userinfo,
            host,
            port,
            path: end..text.len(),
        })
    }

    /// `[user@]host:path` or `[user@][v6]:path`. The userinfo ends at the last `@` before the
    /// first `/`, so that `user:secret@host:path` is seen as carrying a secret.
    fn parse_scp_like(text: &str) -> Result<Self, UrlError> {
        let region = text.find('/').unwrap_or(text.len());
        let (userinfo, host_start) = match text[..region].rfind('@') {
            Some(at) => (Some(0..at), at + 1),
            None => (None, 0),
        };
        let rest = &text[host_start..];
        let (host, path_start) = match rest.strip_prefix('[') {
            Some(inner) => {
                let (v6, after) = inner.split_once(']').ok_or(UrlError::InvalidHost)?;
                if !after.starts_with(':') {
                    return Err(UrlError::InvalidHost);
                }
                (ipv6(v6)?, host_start + v6.len() + "[]:".len())
            }
            None => {
                let colon = rest.find(':').ok_or(UrlError::NoPath)?;
                (host_name(&rest[..colon])?, host_start + colon + 1)
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        if path_start >= text.len() {
            return Err(UrlError::NoPath);
        }
        Ok(RepoUrl {
            raw: text.to_owned(),
            syntax: Syntax::ScpLike,
            scheme: Scheme::Ssh,
            userinfo,
            host,
            port: None,
            path: path_start..text.len(),
        })
    }

    /// The URL as written, userinfo included: for Git itself, never for a human (use the
    /// redacted `Display` form).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The host, lower-cased, without brackets or port; empty for a local repository.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as it goes into a URL: an IPv6 address in brackets.
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The port, when the URL names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path as written: `/owner/name.git` for a URL, `owner/name.git` for scp-like.
    pub fn path(&self) -> &str {
        &self.raw[self.path.clone()]
    }

    /// Whether there is anything before an `@` in the authority (`git@`, `user:token@`).
    pub fn has_userinfo(&self) -> bool {
        self.userinfo.is_some()
    }

    /// Whether the URL carries a secret: any userinfo over HTTP(S), git or file (a token is
    /// often passed as the user name), a password over SSH (`user@` alone is the SSH login).
    pub fn has_credentials(&self) -> bool {
        match (&self.scheme, &self.userinfo) {
            (_, None) => false,
            (Scheme::Ssh, Some(userinfo)) => self.raw[userinfo.clone()].contains(':'),
            (_, Some(_)) => true,
        }
    }

    pub fn is_http(&self) -> bool {
        matches!(self.scheme, Scheme::Https | Scheme::Http)
    }

    pub fn is_ssh(&self) -> bool {
        self.scheme == Scheme::Ssh
    }

    /// `owner/name` (or `group/subgroup/name`) of the repository on its forge.
    pub fn forge_path(&self) -> Result<ForgePath, ForgePathError> {
        if self.host.is_empty() || self.scheme == Scheme::File {
            return Err(ForgePathError::Local);
        }
        ForgePath::parse(self.path())
    }
}

impl fmt::Display for RepoUrl {
    /// The URL with its userinfo replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.userinfo {
            Some(userinfo) => write!(
                f,
                "{}{REDACTED}{}",
                &self.raw[..userinfo.start],
                &self.raw[userinfo.end..]
            ),
            None => f.write_str(&self.raw),
        }
    }
}

impl fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RepoUrl").field(&self.to_string()).finish()
    }
}

/// `text` with any userinfo replaced by `***`, for logs, events, status and errors. Text that
/// does not parse (a word of a server message, a URL with a bad port or an unencoded `/` in
/// its password) is redacted conservatively: everything up to its last `@` goes, from just
/// after `://` when no `@` comes before that, else from the start.
pub fn redact_url(text: &str) -> String {
    if let Ok(url) = RepoUrl::parse(text) {
        return url.to_string();
    }
    let Some(at) = text.rfind('@') else {
        return text.to_owned();
    };
    let start = text
        .find("://")
        .map(|at| at + "://".len())
        .filter(|start| !text[..*start].contains('@'))
        .unwrap_or(0);
    format!("{}{REDACTED}{}", &text[..start], &text[at..])
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn host_and_port(text: &str) -> Result<(String, Option<u16>), UrlError> {
    if let Some(inner) = text.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(UrlError::InvalidHost)?;
        let port = match after {
            "" => None,
            _ => Some(port(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?)?),
        };
        return Ok((ipv6(v6)?, port));
    }
    match text.split_once(':') {
        Some((host, digits)) => Ok((host_name(host)?, Some(port(digits)?))),
        None => Ok((host_name(text)?, None)),
    }
}

/// A registered name or IPv4 address, lower-cased. Non-ASCII letters pass: Git hands
/// internationalised names to the resolver as they are.
fn host_name(text: &str) -> Result<String, UrlError> {
    if text
        .chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(UrlError::InvalidHost)
    }
}

/// The inside of `[…]`: an IPv6 address, with an optional `%zone`.
fn ipv6(text: &str) -> Result<String, UrlError> {
    let (address, zone) = match text.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (text, None),
    };
    let zone_ok = zone.is_none_or(|zone| {
        !zone.is_empty() && zone.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
    });
    if address.parse::<Ipv6Addr>().is_ok() && zone_ok {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(UrlError::InvalidHost)
    }
}

fn port(digits: &str) -> Result<u16, UrlError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match digits.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(UrlError::InvalidPort),
    }
}

#[cfg(test)]
mod tests;

/// Whether `path` holds a segment a server may resolve (`.`, `..`, in any percent-encoding) or
/// an encoded separator: policy globs match the path as written, a server serves it as
/// resolved.
fn has_dot_segment(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return true;
    }
    lower
        .split(['/', '\\', '?', '#'])
        .map(|segment| segment.replace("%2e", "."))
        .any(|segment| segment == "." || segment == "..")
}
