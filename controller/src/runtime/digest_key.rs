//! The key of the digests that tell an unchanged encrypted file (`seal.rs`): 32 random bytes
//! in a Secret of the operator's own namespace, made the first time a run needs it and read
//! after, so that every replica and every restart computes the same digests. An operator whose
//! objects encrypt nothing never asks for it (and needs no right to it).

use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use ring::rand::SecureRandom;

use crate::seal::DigestKey;

/// Where the digest key lives, and the key once read.
pub struct DigestKeySource {
    client: Client,
    namespace: String,
    name: String,
    key: tokio::sync::OnceCell<DigestKey>,
}

impl DigestKeySource {
    pub fn new(client: Client, namespace: String, name: String) -> Self {
        Self {
            client,
            namespace,
            name,
            key: tokio::sync::OnceCell::new(),
        }
    }

    /// The key, read (or made) at the first call that succeeds; a failure is tried again at
    /// the next call, so an admin's fix takes effect without a restart.
    pub async fn get(&self) -> Result<DigestKey, String> {
        self.key
            .get_or_try_init(|| load_or_create(&self.client, &self.namespace, &self.name))
            .await
            .cloned()
    }
}

/// The Secret's key holding the bytes.
const KEY: &str = "key";

/// Reads the digest key, or makes it; an error says what to fix (the operator runs on, and
/// only encrypted Secret dumps fail, with that message).
async fn load_or_create(client: &Client, namespace: &str, name: &str) -> Result<DigestKey, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let where_ = format!("Secret {namespace}/{name}");
    for _ in 0..2 {
        match api.get_opt(name).await {
            Ok(Some(secret)) => {
                let bytes = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get(KEY))
                    .map(|b| b.0.clone())
                    .unwrap_or_default();
                if bytes.len() < 32 {
                    return Err(format!(
                        "{where_} has no `{KEY}` of at least 32 bytes: delete it, and the operator makes a new one at its next start"
                    ));
                }
                return Ok(DigestKey::new(&bytes));
            }
            Ok(None) => {}
            Err(error) => return Err(format!("cannot read {where_}: {error}")),
        }
        let mut bytes = vec![0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| "no randomness for the digest key".to_owned())?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some([(KEY.to_owned(), ByteString(bytes))].into()),
            ..Secret::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => {}
            // Another replica made it first: read theirs.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => {
                return Err(format!(
                    "cannot create {where_}: {error} (the operator needs `create` on Secrets in its namespace; set --digest-key-namespace to a namespace it may write)"
                ));
            }
        }
    }
    Err(format!("{where_} could not be read back after it was made"))
}
