//! The auth Secret (its keys: docs/user-guide.md, Credentials), and the git2 callbacks that hand its contents to libgit2.
//!
//! Credentials reach libgit2 only through callbacks and in-memory headers: never in a URL,
//! a config file or an environment variable.

use std::{cell::RefCell, collections::BTreeMap, fmt, rc::Rc};

use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::{GitError, known_hosts::KnownHosts, tls, url::RepoUrl};

/// The user name a `token` key authenticates with when `username` is absent.
const TOKEN_USERNAME: &str = "oauth2";
/// How many times libgit2 may ask for credentials before we call them wrong: it asks again
/// after every 401, forever.
const MAX_CREDENTIAL_ASKS: u32 = 2;

/// The data of an auth Secret, as the controller reads it from Kubernetes.
/// Compared whole so that only changes with the same credentials share a push.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    username: Option<String>,
    password: Option<String>,
    bearer_token: Option<String>,
    token: Option<String>,
    ca_cert: Option<Vec<u8>>,
    identity: Option<Vec<u8>>,
    known_hosts: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "<set>" } else { "<unset>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &set(self.password.is_some()))
            .field("bearer_token", &set(self.bearer_token.is_some()))
            .field("token", &set(self.token.is_some()))
            .field("ca_cert", &set(self.ca_cert.is_some()))
            .field("identity", &set(self.identity.is_some()))
            .field("known_hosts", &set(self.known_hosts.is_some()))
            .finish()
    }
}

impl Credentials {
    /// No credentials: anonymous access (public HTTPS repositories, `file://`, tests).
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Reads the documented keys (docs/user-guide.md, Credentials) from a Secret's (decoded) `data`. Unknown keys are
    /// ignored; values are trimmed of a trailing newline, which `kubectl create secret
    /// --from-file` keeps and no server expects.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Self {
        let text = |key: &str| {
            data.get(key).map(|v| {
                String::from_utf8_lossy(v)
                    .trim_end_matches(['\r', '\n'])
                    .to_owned()
            })
        };
        Credentials {
            username: text("username"),
            password: text("password"),
            bearer_token: text("bearerToken"),
            token: text("token"),
            ca_cert: data.get("ca.crt").cloned(),
            identity: data.get("identity").cloned(),
            known_hosts: text("known_hosts"),
        }
    }

    /// Builder-style setters, for tests and for callers that assemble credentials by hand.
    pub fn with_basic(mut self, username: &str, password: &str) -> Self {
        self.username = Some(username.to_owned());
        self.password = Some(password.to_owned());
        self
    }

    pub fn with_bearer_token(mut self, token: &str) -> Self {
        self.bearer_token = Some(token.to_owned());
        self
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn with_ca_cert(mut self, pem: &[u8]) -> Self {
        self.ca_cert = Some(pem.to_vec());
        self
    }

    pub fn with_ssh(
        mut self,
        identity: &[u8],
        passphrase: Option<&str>,
        known_hosts: &str,
    ) -> Self {
        self.identity = Some(identity.to_vec());
        self.password = passphrase.map(str::to_owned);
        self.known_hosts = Some(known_hosts.to_owned());
        self
    }

    /// Every secret value, for [`super::redact::redact_secrets`].
    pub fn secrets(&self) -> Vec<&str> {
        [&self.password, &self.bearer_token, &self.token]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The token for the forge's API, taken explicitly: `token`, else `bearerToken`, else
    /// `password`, the first set. `password` counts only in an https Secret: in an ssh Secret
    /// (one with `identity` or `known_hosts`) it is the key's passphrase or the ssh password,
    /// which no forge API takes and which must not leave for one. The ssh key itself never is
    /// a token.
    pub fn api_token(&self) -> Option<&str> {
        let password = if self.is_ssh() {
            None
        } else {
            self.password.as_deref()
        };
        self.token
            .as_deref()
            .or(self.bearer_token.as_deref())
            .or(password)
    }

    /// Whether the Secret is made for ssh: it holds a private key or the host keys to trust.
    fn is_ssh(&self) -> bool {
        self.identity.is_some() || self.known_hosts.is_some()
    }

    /// Extra HTTP headers for fetch and push: `Authorization: Bearer …` for `bearerToken`.
    pub(crate) fn http_headers(&self, url: &RepoUrl) -> Vec<String> {
        match (&self.bearer_token, url.is_http()) {
            (Some(token), true) => vec![format!("Authorization: Bearer {token}")],
            _ => Vec::new(),
        }
    }

    /// Checks up front what libgit2 would only discover mid-connection.
    pub(crate) fn check_for(&self, url: &RepoUrl) -> Result<(), GitError> {
        if url.is_ssh() && self.known_hosts.is_none() {
            return Err(GitError::Credentials {
                reason: "ssh repositories need `known_hosts` in the auth Secret: unknown host keys are refused (get it with `ssh-keyscan <host>`)".into(),
            });
        }
        if let Some(known_hosts) = &self.known_hosts {
            KnownHosts::parse(known_hosts).map_err(|reason| GitError::Credentials { reason })?;
        }
        if let Some(ca) = &self.ca_cert {
            tls::parse_ca(ca).map_err(|reason| GitError::Credentials { reason })?;
        }
        Ok(())
    }

    /// The callbacks for one fetch or push. What they refused is recorded in `failure`, so
    /// the caller can report a precise error instead of libgit2's generic one.
    pub(crate) fn callbacks<'a>(
        &'a self,
        url: &'a RepoUrl,
        failure: Rc<RefCell<Option<GitError>>>,
    ) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        let mut asks = 0u32;
        let cred_failure = Rc::clone(&failure);
        callbacks.credentials(move |asking, username_from_url, allowed| {
            // Credentials go to the repository's host only, whatever a server answered.
            if !same_origin(url, asking) {
                let error = GitError::AuthFailed {
                    url: url.redacted(),
                    detail: "another host asked for the credentials; they are sent only to the \
                             repository's own host"
                        .into(),
                };
                *cred_failure.borrow_mut() = Some(error);
                return Err(git2::Error::from_str("credentials refused to another host"));
            }
            asks += 1;
            if asks > MAX_CREDENTIAL_ASKS {
                let error = GitError::AuthFailed {
                    url: url.redacted(),
                    detail: "the server refused the credentials".into(),
                };
                *cred_failure.borrow_mut() = Some(error);
                return Err(git2::Error::from_str("authentication failed"));
            }
            self.credential(url, username_from_url, allowed)
                .map_err(|error| {
                    let message = error.to_string();
                    *cred_failure.borrow_mut() = Some(error);
                    git2::Error::from_str(&message)
                })
        });
        callbacks.certificate_check(move |cert, host| {
            let result = if let Some(hostkey) = cert.as_hostkey() {
                self.check_host_key(url, host, hostkey)
            } else if let Some(x509) = cert.as_x509() {
                self.check_certificate(host, x509.data())
            } else {
                Ok(CertificateCheckStatus::CertificatePassthrough)
            };
            result.map_err(|error| {
                let message = error.to_string();
                *failure.borrow_mut() = Some(error);
                git2::Error::from_str(&message)
            })
        });
        callbacks
    }

    fn credential(
        &self,
        url: &RepoUrl,
        username_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, GitError> {
        let auth_failed = |detail: &str| GitError::AuthFailed {
            url: url.redacted(),
            detail: detail.to_owned(),
        };
        let ssh_user = username_from_url
            .or(self.username.as_deref())
            .unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(ssh_user).map_err(|e| auth_failed(&e.to_string()));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            let Some(identity) = &self.identity else {
                return Err(auth_failed(
                    "the server wants an ssh key and the auth Secret has no `identity`",
                ));
            };
            let key = String::from_utf8_lossy(identity);
            return Cred::ssh_key_from_memory(ssh_user, None, &key, self.password.as_deref())
                .map_err(|_| auth_failed("the `identity` key could not be loaded (wrong `password` for an encrypted key?)"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            let pair = match (&self.password, &self.token) {
                (Some(password), _) => Some((self.username.as_deref().unwrap_or(""), password)),
                (None, Some(token)) => {
                    Some((self.username.as_deref().unwrap_or(TOKEN_USERNAME), token))
                }
                (None, None) => None,
            };
            let Some((user, password)) = pair else {
                let detail = if self.bearer_token.is_some() {
                    "the server did not accept the bearer token"
                } else {
                    "the server wants a username and password and the auth Secret has none"
                };
                return Err(auth_failed(detail));
            };
            return Cred::userpass_plaintext(user, password)
                .map_err(|e| auth_failed(&e.to_string()));
        }
        Err(auth_failed(
            "the server asked for a credential type the operator does not support",
        ))
    }

    fn check_host_key(
        &self,
        url: &RepoUrl,
        host: &str,
        hostkey: &git2::cert::CertHostkey<'_>,
    ) -> Result<CertificateCheckStatus, GitError> {
        let rejected = |reason: String| GitError::HostKeyRejected {
            host: host.to_owned(),
            reason,
        };
        let Some(known_hosts) = &self.known_hosts else {
            return Err(rejected("the auth Secret has no `known_hosts`".into()));
        };
        let known = KnownHosts::parse(known_hosts).map_err(rejected)?;
        let Some(key) = hostkey.hostkey() else {
            return Err(rejected("the server sent no host key".into()));
        };
        known
            .verify(host, url.port(), key)
            .map(|()| CertificateCheckStatus::CertificateOk)
            .map_err(rejected)
    }

    fn check_certificate(
        &self,
        host: &str,
        der: &[u8],
    ) -> Result<CertificateCheckStatus, GitError> {
        // Without a ca.crt, libgit2's own verification against the system store decides.
        let Some(ca) = &self.ca_cert else {
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        tls::verify(der, host, ca)
            .map(|()| CertificateCheckStatus::CertificateOk)
            .map_err(|reason| GitError::CertificateRejected {
                host: host.to_owned(),
                reason,
            })
    }
}

/// Whether `asking` (the URL libgit2 wants credentials for) is on the repository's host and
/// port: anything else got there by a redirect.
fn same_origin(repository: &RepoUrl, asking: &str) -> bool {
    match gco_api::RepoUrl::parse(asking) {
        Ok(asking) => {
            asking.host().eq_ignore_ascii_case(repository.host())
                && asking.port() == repository.port()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] =
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn the_api_token_is_token_then_bearer_token_then_an_https_password() {
        assert_eq!(Credentials::anonymous().api_token(), None);
        let basic = Credentials::anonymous().with_basic("bot", "ghp_pat");
        assert_eq!(basic.api_token(), Some("ghp_pat"));
        let bearer = basic.clone().with_bearer_token("bearer");
        assert_eq!(bearer.api_token(), Some("bearer"));
        assert_eq!(bearer.with_token("tok").api_token(), Some("tok"));
        let data = BTreeMap::from([
            ("username".to_owned(), b"bot".to_vec()),
            ("password".to_owned(), b"account password".to_vec()),
            ("token".to_owned(), b"glpat-api\n".to_vec()),
        ]);
        assert_eq!(
            Credentials::from_secret_data(&data).api_token(),
            Some("glpat-api")
        );
    }

    #[test]
    fn an_ssh_passphrase_or_key_is_never_the_api_token() {
        let ssh =
            Credentials::anonymous().with_ssh(KEY, Some("passphrase"), "host ssh-ed25519 AAAA");
        assert_eq!(ssh.api_token(), None);
        assert_eq!(ssh.clone().with_token("tok").api_token(), Some("tok"));
        assert_eq!(ssh.with_bearer_token("bearer").api_token(), Some("bearer"));
        // An ssh password (no key, but known_hosts) is not a token either.
        let data = BTreeMap::from([
            ("username".to_owned(), b"git".to_vec()),
            ("password".to_owned(), b"ssh password".to_vec()),
            ("known_hosts".to_owned(), b"host ssh-ed25519 AAAA".to_vec()),
        ]);
        assert_eq!(Credentials::from_secret_data(&data).api_token(), None);
        let key_only = BTreeMap::from([("identity".to_owned(), KEY.to_vec())]);
        assert_eq!(Credentials::from_secret_data(&key_only).api_token(), None);
    }
}
