//! Reading the credentials Secret that `spec.auth.secretName` names, in the object's namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::{
    git::Credentials,
    references::{Identity, Reader, forbidden},
};

/// Why the auth Secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "spec.auth.secretName: Secret {name:?} does not exist in this namespace: create it \
         (keys username/password, bearerToken, token, or identity/known_hosts for ssh)"
    )]
    Missing { name: String },
    #[error(
        "spec.auth.secretName: {identity} may not read Secret {name:?} ({detail}): grant it \
         `get` on that Secret, or name a Secret it may read"
    )]
    Forbidden {
        name: String,
        identity: Identity,
        detail: String,
    },
    #[error("spec.auth.secretName: cannot read Secret {name:?}: {source}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// The credentials of `secret_name` in `namespace`, read as `reader`; anonymous when the spec
/// names none.
pub async fn read(
    reader: &Reader,
    namespace: &str,
    secret_name: Option<&str>,
) -> Result<Credentials, CredentialsError> {
    let Some(name) = secret_name else {
        return Ok(Credentials::anonymous());
    };
    let data = secret_data(reader, namespace, name)
        .await
        .map_err(|error| match error {
            SecretRead::Missing => CredentialsError::Missing {
                name: name.to_owned(),
            },
            SecretRead::Forbidden(detail) => CredentialsError::Forbidden {
                name: name.to_owned(),
                identity: reader.identity.clone(),
                detail,
            },
            SecretRead::Failed(source) => CredentialsError::Read {
                name: name.to_owned(),
                source,
            },
        })?;
    Ok(Credentials::from_secret_data(&data))
}

/// Why a Secret a spec names could not be read; each caller says which field named it.
#[derive(Debug)]
pub(super) enum SecretRead {
    Missing,
    /// The apiserver's message: the reader may not `get` it.
    Forbidden(String),
    Failed(kube::Error),
}

/// The (decoded) `data` of Secret `name` in `namespace`, read as `reader`: impersonating the
/// object's ServiceAccount in lockdown, so the apiserver judges the read.
pub(super) async fn secret_data(
    reader: &Reader,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, SecretRead> {
    let secrets: Api<Secret> = Api::namespaced(reader.client.clone(), namespace);
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|source| match forbidden(&source) {
            Some(detail) => SecretRead::Forbidden(detail),
            None => SecretRead::Failed(source),
        })?
        .ok_or(SecretRead::Missing)?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}
