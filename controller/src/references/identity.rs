//! Whose permissions the reads made for one object use.
//!
//! By default the controller reads with its own identity, and the admission webhook checks that
//! the requester may read what a spec references. With `spec.serviceAccountName` or the
//! controller's `--default-service-account`, every read made for the object (discovery, the
//! referenced objects, the auth Secret) impersonates that ServiceAccount of the object's
//! namespace instead, so the apiserver enforces the tenant's RBAC whatever the webhook did
//! (docs/security.md, Lockdown).

use std::{collections::HashMap, fmt, sync::Mutex};

use kube::{Client, Config};

/// Impersonating clients kept at once; past that the cache starts again (a client is cheap to
/// rebuild, and tenants must not grow the operator's memory with ServiceAccount names).
const MAX_CLIENTS: usize = 256;

/// The identity of the reads made for one object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The controller's own ServiceAccount.
    Operator,
    /// A ServiceAccount of the object's namespace, impersonated.
    ServiceAccount { namespace: String, name: String },
}

impl Identity {
    /// The spec's ServiceAccount, else the controller's default one, else the controller.
    pub fn of(namespace: &str, service_account: Option<&str>, default: Option<&str>) -> Self {
        match service_account
            .filter(|name| !name.is_empty())
            .or(default.filter(|name| !name.is_empty()))
        {
            Some(name) => Identity::ServiceAccount {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
            None => Identity::Operator,
        }
    }

    /// The Kubernetes user name the apiserver sees.
    pub fn user(&self) -> Option<String> {
        match self {
            Identity::Operator => None,
            Identity::ServiceAccount { namespace, name } => {
                Some(format!("system:serviceaccount:{namespace}:{name}"))
            }
        }
    }

    pub fn is_impersonated(&self) -> bool {
        matches!(self, Identity::ServiceAccount { .. })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.user() {
            Some(user) => f.write_str(&user),
            None => f.write_str("the controller's ServiceAccount"),
        }
    }
}

/// A client that reads as one identity.
#[derive(Clone)]
pub struct Reader {
    pub client: Client,
    pub identity: Identity,
}

/// Hands out a [`Reader`] per object.
pub struct Readers {
    config: Config,
    operator: Client,
    default_service_account: Option<String>,
    impersonating: Mutex<HashMap<Identity, Client>>,
}

impl Readers {
    /// `config` is the controller's own; `default_service_account` is the flag's value.
    pub fn new(config: Config, operator: Client, default_service_account: Option<String>) -> Self {
        Self {
            config,
            operator,
            default_service_account: default_service_account.filter(|name| !name.is_empty()),
            impersonating: Mutex::new(HashMap::new()),
        }
    }

    /// The identity an object in `namespace` with `spec.serviceAccountName` reads as.
    pub fn identity(&self, namespace: &str, service_account: Option<&str>) -> Identity {
        Identity::of(
            namespace,
            service_account,
            self.default_service_account.as_deref(),
        )
    }

    /// The reader for `identity`.
    pub fn reader(&self, identity: Identity) -> Result<Reader, kube::Error> {
        let Some(user) = identity.user() else {
            return Ok(Reader {
                client: self.operator.clone(),
                identity,
            });
        };
        let mut clients = self
            .impersonating
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&identity) {
            return Ok(Reader {
                client: client.clone(),
                identity,
            });
        }
        let mut config = self.config.clone();
        // The apiserver adds the ServiceAccount's groups itself when only the user is given.
        config.auth_info.impersonate = Some(user);
        config.auth_info.impersonate_groups = None;
        let client = Client::try_from(config)?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(identity.clone(), client.clone());
        Ok(Reader { client, identity })
    }
}

/// The apiserver's words when it refused a read as forbidden.
pub fn forbidden(error: &kube::Error) -> Option<String> {
    match error {
        kube::Error::Api(status) if status.code == 403 => Some(status.message.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_account_names_the_user_the_apiserver_sees() {
        let identity = Identity::ServiceAccount {
            namespace: "team".into(),
            name: "exporter".into(),
        };
        assert_eq!(identity.to_string(), "system:serviceaccount:team:exporter");
        assert!(identity.is_impersonated());
        assert!(!Identity::Operator.is_impersonated());
        assert_eq!(Identity::Operator.user(), None);
    }

    #[test]
    fn the_spec_wins_over_the_default_and_the_operator_is_the_last_resort() {
        let sa = |name: &str| Identity::ServiceAccount {
            namespace: "team".into(),
            name: name.into(),
        };
        assert_eq!(Identity::of("team", Some("mine"), Some("gco")), sa("mine"));
        assert_eq!(Identity::of("team", None, Some("gco")), sa("gco"));
        assert_eq!(Identity::of("team", Some(""), Some("gco")), sa("gco"));
        assert_eq!(Identity::of("team", None, None), Identity::Operator);
        assert_eq!(Identity::of("team", None, Some("")), Identity::Operator);
    }
}
