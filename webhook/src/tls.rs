//! TLS for the webhook: one [`CertStore`] that the rustls server asks for the certificate on
//! every handshake, so a new certificate is served from the next connection on, without a
//! restart and without dropping a connection. It is filled either from files
//! ([`files`], cert-manager style) or by the webhook itself ([`self_managed`]).

pub mod files;
pub mod self_managed;

use std::sync::{Arc, RwLock};

use rustls::{
    ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no PEM certificate found")]
    NoCertificate,
    #[error("cannot read the PEM certificate: {0}")]
    Certificate(rustls::pki_types::pem::Error),
    #[error("cannot read the PEM private key: {0}")]
    Key(rustls::pki_types::pem::Error),
    #[error("the private key does not fit the certificate or is unsupported: {0}")]
    Mismatch(rustls::Error),
    #[error("cannot issue a certificate: {0}")]
    Issue(#[from] rcgen::Error),
}

/// The certificate currently served; swapped atomically.
#[derive(Debug, Default)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertStore {
    /// Serves `key` from the next handshake on.
    pub fn set(&self, key: CertifiedKey) {
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(key));
        }
    }

    /// Whether a certificate is loaded (the server is not ready before).
    pub fn is_loaded(&self) -> bool {
        self.current.read().is_ok_and(|c| c.is_some())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().and_then(|c| c.clone())
    }
}

/// The process's crypto provider: ring, the one kube uses (installed in `main`).
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// A certificate chain and private key, both PEM.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::Certificate)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(TlsError::Key)?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(TlsError::Mismatch)
}

/// A rustls server configuration that serves whatever `store` holds, over HTTP/2 or HTTP/1.1.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
