//! Self-managed certificates: the webhook makes its own CA and serving certificate, keeps
//! them in a Secret (so every replica serves the same pair), patches the CA into the webhook
//! configurations' `caBundle`, and renews well before expiry.
//!
//! Renewing the serving certificate keeps the CA, so the `caBundle` does not change and no
//! request can fail. Renewing the CA publishes a bundle with the new and the previous CA
//! first, waits for the apiserver to pick it up, and only then serves the new certificate.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::{
    ByteString,
    api::{
        admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration},
        core::v1::Secret,
    },
};
use kube::{
    Api, Client,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::json;
use tracing::{info, warn};

use super::{CertStore, TlsError, certified_key};

/// Annotation: end of the serving certificate's validity, in Unix seconds.
const NOT_AFTER: &str = "gco.galos.one/not-after";
/// Annotation: end of the current CA's validity, in Unix seconds.
const CA_NOT_AFTER: &str = "gco.galos.one/ca-not-after";
/// Annotation: the current CA's common name (unique per CA), to sign with it again.
const CA_NAME: &str = "gco.galos.one/ca-name";
/// The CA lives this many serving-certificate lifetimes.
const CA_LIFETIMES: i64 = 10;

/// Why the self-managed certificates could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum SelfManagedError {
    #[error("cannot read or write Secret {namespace}/{name}: {source}")]
    Secret {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot patch caBundle of {kind} {name:?}: {source}")]
    WebhookConfiguration {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A CA and a serving certificate, as stored in the Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The CA bundle to trust: the current CA first, then the previous one while it is valid.
    pub ca_bundle_pem: String,
    pub ca_key_pem: String,
    pub ca_name: String,
    pub ca_not_after: i64,
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: i64,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn ca_params(name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn validity(params: &mut CertificateParams, seconds: i64) -> i64 {
    let start = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    params.not_before = start;
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    now() + seconds
}

impl Bundle {
    /// A new CA (valid ten serving lifetimes) and a serving certificate for `names`.
    pub fn generate(
        names: &[String],
        lifetime: i64,
        previous_ca: Option<&str>,
    ) -> Result<Self, TlsError> {
        let ca_name = format!("gco-webhook-ca-{}", now());
        let ca_key = KeyPair::generate()?;
        let mut params = ca_params(&ca_name)?;
        let ca_not_after = validity(&mut params, lifetime.saturating_mul(CA_LIFETIMES));
        let ca_cert = params.self_signed(&ca_key)?;
        let mut bundle = Self {
            ca_bundle_pem: match previous_ca {
                Some(previous) => format!("{}{previous}", ca_cert.pem()),
                None => ca_cert.pem(),
            },
            ca_key_pem: ca_key.serialize_pem(),
            ca_name,
            ca_not_after,
            cert_pem: String::new(),
            key_pem: String::new(),
            not_after: 0,
        };
        bundle.renew(names, lifetime)?;
        Ok(bundle)
    }

    /// Issues a new serving certificate for `names` (DNS names or IP addresses) from the
    /// current CA.
    pub fn renew(&mut self, names: &[String], lifetime: i64) -> Result<(), TlsError> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem)?;
        let issuer = Issuer::new(ca_params(&self.ca_name)?, ca_key);
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => name.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map_or("gco-webhook", String::as_str),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        self.not_after = validity(&mut params, lifetime);
        let key = KeyPair::generate()?;
        self.cert_pem = params.signed_by(&key, &issuer)?.pem();
        self.key_pem = key.serialize_pem();
        Ok(())
    }

    /// The current CA alone (the first certificate of the bundle).
    fn current_ca_pem(&self) -> &str {
        const END: &str = "-----END CERTIFICATE-----";
        match self.ca_bundle_pem.find(END) {
            Some(at) => &self.ca_bundle_pem[..at + END.len()],
            None => &self.ca_bundle_pem,
        }
    }

    fn from_secret(secret: &Secret) -> Option<Self> {
        let data = secret.data.as_ref()?;
        let text = |key: &str| String::from_utf8(data.get(key)?.0.clone()).ok();
        let annotations = secret.metadata.annotations.as_ref()?;
        let number = |key: &str| annotations.get(key)?.parse().ok();
        Some(Self {
            ca_bundle_pem: text("ca.crt")?,
            ca_key_pem: text("ca.key")?,
            ca_name: annotations.get(CA_NAME)?.clone(),
            ca_not_after: number(CA_NOT_AFTER)?,
            cert_pem: text("tls.crt")?,
            key_pem: text("tls.key")?,
            not_after: number(NOT_AFTER)?,
        })
    }

    fn to_secret(&self, namespace: &str, name: &str, resource_version: Option<String>) -> Secret {
        let bytes = |text: &str| ByteString(text.as_bytes().to_vec());
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                resource_version,
                annotations: Some(BTreeMap::from([
                    (NOT_AFTER.to_owned(), self.not_after.to_string()),
                    (CA_NOT_AFTER.to_owned(), self.ca_not_after.to_string()),
                    (CA_NAME.to_owned(), self.ca_name.clone()),
                ])),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".to_owned()),
            data: Some(BTreeMap::from([
                ("ca.crt".to_owned(), bytes(&self.ca_bundle_pem)),
                ("ca.key".to_owned(), bytes(&self.ca_key_pem)),
                ("tls.crt".to_owned(), bytes(&self.cert_pem)),
                ("tls.key".to_owned(), bytes(&self.key_pem)),
            ])),
            ..Default::default()
        }
    }
}

/// Keeps the certificates in `namespace/secret_name` and the `caBundle`s up to date.
#[derive(Clone)]
pub struct SelfManaged {
    pub client: Client,
    pub namespace: String,
    pub secret_name: String,
    /// Subject alternative names: `<service>.<namespace>.svc` and any extra names or IPs.
    pub names: Vec<String>,
    pub mutating_webhook: Option<String>,
    pub validating_webhook: Option<String>,
    /// Serving certificate lifetime, in seconds.
    pub lifetime: i64,
    /// Renew when less than this is left, in seconds.
    pub renew_before: i64,
    /// How often to look at the Secret and the expiry.
    pub interval: Duration,
    /// How long the apiserver may take to see a new `caBundle`.
    pub propagation: Duration,
}

impl SelfManaged {
    /// Makes sure a valid pair is in the Secret, served, and trusted by the configurations.
    pub async fn ensure(&self, store: &CertStore) -> Result<(), SelfManagedError> {
        let secrets = Api::<Secret>::namespaced(self.client.clone(), &self.namespace);
        let existing = secrets
            .get_opt(&self.secret_name)
            .await
            .map_err(|e| self.secret_error(e))?;
        let version = existing
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone());
        let current = existing.as_ref().and_then(Bundle::from_secret);
        let deadline = now() + self.renew_before;
        let (bundle, new_ca) = match current {
            Some(bundle) if bundle.not_after > deadline && bundle.ca_not_after > deadline => {
                (bundle, false)
            }
            Some(mut bundle) if bundle.ca_not_after > deadline + self.lifetime => {
                bundle.renew(&self.names, self.lifetime)?;
                info!(secret = %self.secret_name, "renewing the serving certificate");
                (self.store_secret(&secrets, &bundle, version).await?, false)
            }
            Some(bundle) => {
                info!(secret = %self.secret_name, "renewing the CA");
                let fresh =
                    Bundle::generate(&self.names, self.lifetime, Some(bundle.current_ca_pem()))?;
                (self.store_secret(&secrets, &fresh, version).await?, true)
            }
            None => (
                self.store_secret(
                    &secrets,
                    &Bundle::generate(&self.names, self.lifetime, None)?,
                    version,
                )
                .await?,
                true,
            ),
        };
        let changed = self.patch_ca_bundles(&bundle.ca_bundle_pem).await?;
        if changed && new_ca && store.is_loaded() {
            // Serve a certificate from the new CA only once the apiserver trusts it.
            tokio::time::sleep(self.propagation).await;
        }
        store.set(certified_key(
            bundle.cert_pem.as_bytes(),
            bundle.key_pem.as_bytes(),
        )?);
        Ok(())
    }

    /// Runs [`Self::ensure`] every `interval`, forever.
    pub async fn run(self, store: Arc<CertStore>) {
        loop {
            tokio::time::sleep(self.interval).await;
            if let Err(error) = self.ensure(&store).await {
                warn!(%error, "self-managed certificate check failed; retrying");
            }
        }
    }

    /// Writes `bundle`; when another replica wrote first, uses theirs.
    async fn store_secret(
        &self,
        secrets: &Api<Secret>,
        bundle: &Bundle,
        version: Option<String>,
    ) -> Result<Bundle, SelfManagedError> {
        let secret = bundle.to_secret(&self.namespace, &self.secret_name, version.clone());
        let written = match version {
            Some(_) => {
                secrets
                    .replace(&self.secret_name, &PostParams::default(), &secret)
                    .await
            }
            None => secrets.create(&PostParams::default(), &secret).await,
        };
        match written {
            Ok(_) => Ok(bundle.clone()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let theirs = secrets
                    .get(&self.secret_name)
                    .await
                    .map_err(|e| self.secret_error(e))?;
                Bundle::from_secret(&theirs)
                    .ok_or_else(|| self.secret_error(kube::Error::Api(status)))
            }
            Err(error) => Err(self.secret_error(error)),
        }
    }

    fn secret_error(&self, source: kube::Error) -> SelfManagedError {
        SelfManagedError::Secret {
            namespace: self.namespace.clone(),
            name: self.secret_name.clone(),
            source,
        }
    }

    /// Sets `caBundle` of every webhook in the configured configurations; true if any changed.
    async fn patch_ca_bundles(&self, ca_pem: &str) -> Result<bool, SelfManagedError> {
        let wanted = ByteString(ca_pem.as_bytes().to_vec());
        let mut changed = false;
        if let Some(name) = &self.mutating_webhook {
            let api = Api::<MutatingWebhookConfiguration>::all(self.client.clone());
            let bundles = read_bundles(&api, name, "MutatingWebhookConfiguration", |c| {
                c.webhooks
                    .into_iter()
                    .flatten()
                    .map(|w| w.client_config.ca_bundle)
                    .collect()
            })
            .await?;
            changed |= patch(&api, name, bundles, &wanted, "MutatingWebhookConfiguration").await?;
        }
        if let Some(name) = &self.validating_webhook {
            let api = Api::<ValidatingWebhookConfiguration>::all(self.client.clone());
            let bundles = read_bundles(&api, name, "ValidatingWebhookConfiguration", |c| {
                c.webhooks
                    .into_iter()
                    .flatten()
                    .map(|w| w.client_config.ca_bundle)
                    .collect()
            })
            .await?;
            changed |= patch(
                &api,
                name,
                bundles,
                &wanted,
                "ValidatingWebhookConfiguration",
            )
            .await?;
        }
        Ok(changed)
    }
}

/// The `caBundle` of each webhook of configuration `name` (none if it does not exist).
async fn read_bundles<K>(
    api: &Api<K>,
    name: &str,
    kind: &'static str,
    bundles_of: impl FnOnce(K) -> Vec<Option<ByteString>>,
) -> Result<Vec<Option<ByteString>>, SelfManagedError>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    match api.get_opt(name).await {
        Ok(found) => Ok(found.map(bundles_of).unwrap_or_default()),
        Err(source) => Err(SelfManagedError::WebhookConfiguration {
            kind,
            name: name.to_owned(),
            source,
        }),
    }
}

/// JSON-patches `caBundle` of each webhook whose bundle differs from `wanted`.
async fn patch<K>(
    api: &Api<K>,
    name: &str,
    bundles: Vec<Option<ByteString>>,
    wanted: &ByteString,
    kind: &'static str,
) -> Result<bool, SelfManagedError>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let ops: Vec<_> = bundles
        .iter()
        .enumerate()
        .filter(|(_, bundle)| bundle.as_ref() != Some(wanted))
        .map(|(index, _)| json!({"op": "add", "path": format!("/webhooks/{index}/clientConfig/caBundle"), "value": wanted}))
        .collect();
    if ops.is_empty() {
        return Ok(false);
    }
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::Value::Array(ops)).map_err(|e| {
            SelfManagedError::WebhookConfiguration {
                kind,
                name: name.to_owned(),
                source: kube::Error::SerdeError(e),
            }
        })?;
    api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|source| SelfManagedError::WebhookConfiguration {
            kind,
            name: name.to_owned(),
            source,
        })?;
    info!(kind, name, "caBundle patched");
    Ok(true)
}
