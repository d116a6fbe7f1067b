//! Certificates from files (cert-manager's `tls.crt` / `tls.key` in a mounted Secret),
//! re-read when they change. Polling the content rather than watching inodes survives the
//! kubelet's symlink swap of Secret volumes.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tracing::{info, warn};

use super::{CertStore, TlsError, certified_key};

/// Where the PEM files are, and how often to look at them.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub interval: Duration,
}

impl CertFiles {
    /// Loads the files into `store` once.
    pub async fn load(&self, store: &CertStore) -> Result<(Vec<u8>, Vec<u8>), LoadError> {
        let cert = tokio::fs::read(&self.cert)
            .await
            .map_err(|e| LoadError::Read(self.cert.clone(), e))?;
        let key = tokio::fs::read(&self.key)
            .await
            .map_err(|e| LoadError::Read(self.key.clone(), e))?;
        store.set(certified_key(&cert, &key)?);
        Ok((cert, key))
    }

    /// Reloads the files whenever their content changes, forever. A half-written pair (the
    /// key no longer fits the certificate) keeps the previous certificate until both agree.
    pub async fn watch(self, store: Arc<CertStore>) {
        let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
        loop {
            let cert = tokio::fs::read(&self.cert).await;
            let key = tokio::fs::read(&self.key).await;
            if let (Ok(cert), Ok(key)) = (cert, key)
                && last.as_ref().is_none_or(|(c, k)| *c != cert || *k != key)
            {
                match certified_key(&cert, &key) {
                    Ok(certified) => {
                        store.set(certified);
                        if last.is_some() {
                            info!(cert = %self.cert.display(), "serving certificate reloaded");
                        }
                        last = Some((cert, key));
                    }
                    Err(error) => {
                        warn!(%error, cert = %self.cert.display(), "certificate files not usable yet")
                    }
                }
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// Why the certificate files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}
