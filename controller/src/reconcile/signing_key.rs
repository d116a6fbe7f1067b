//! Reading the key that `spec.commit.signingKey.secretName` names, in the object's namespace,
//! with the same reader as the auth Secret (in lockdown, as the object's ServiceAccount).

use crate::{
    git::{SigningKey, SigningKeyProblem},
    references::{Identity, Reader},
};

use super::credentials::{SecretRead, secret_data};

/// Why the signing key could not be used. Messages name the field, the Secret and the fix;
/// never a key or a passphrase.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(
        "spec.commit.signingKey.secretName: Secret {name:?} does not exist in this namespace: \
         create it (key git.asc with an armored OpenPGP private key and its passphrase, or \
         identity with an OpenSSH private key and its password)"
    )]
    Missing { name: String },
    #[error(
        "spec.commit.signingKey.secretName: {identity} may not read Secret {name:?} \
         ({detail}): grant it `get` on that Secret, or name a Secret it may read"
    )]
    Forbidden {
        name: String,
        identity: Identity,
        detail: String,
    },
    #[error("spec.commit.signingKey.secretName: cannot read Secret {name:?}: {source}")]
    Read {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("spec.commit.signingKey.secretName: the key of Secret {name:?} cannot sign: {problem}")]
    Unusable {
        name: String,
        problem: SigningKeyProblem,
    },
}

/// The unlocked key of `secret_name` in `namespace`, read as `reader`; `None` when the spec
/// names none (its commits are not signed).
pub async fn read(
    reader: &Reader,
    namespace: &str,
    secret_name: Option<&str>,
) -> Result<Option<SigningKey>, SigningKeyError> {
    let Some(name) = secret_name else {
        return Ok(None);
    };
    let data = secret_data(reader, namespace, name)
        .await
        .map_err(|error| match error {
            SecretRead::Missing => SigningKeyError::Missing {
                name: name.to_owned(),
            },
            SecretRead::Forbidden(detail) => SigningKeyError::Forbidden {
                name: name.to_owned(),
                identity: reader.identity.clone(),
                detail,
            },
            SecretRead::Failed(source) => SigningKeyError::Read {
                name: name.to_owned(),
                source,
            },
        })?;
    SigningKey::from_secret_data(&data)
        .map(Some)
        .map_err(|problem| SigningKeyError::Unusable {
            name: name.to_owned(),
            problem,
        })
}
