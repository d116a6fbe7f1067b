//! Verifying an HTTPS server's certificate against the auth Secret's `ca.crt`.
//!
//! libgit2 hands the certificate callback only the leaf certificate, so the CA bundle must
//! hold the issuing CA (and any intermediates). The check is the one a TLS client makes:
//! chain to a trusted certificate, validity dates, and the host name or IP address.

use std::net::IpAddr;

use openssl::{
    stack::Stack,
    x509::{X509, X509StoreContext, store::X509StoreBuilder, verify::X509VerifyParam},
};

/// The certificates of a PEM bundle; an error if there are none.
pub(crate) fn parse_ca(pem: &[u8]) -> Result<Vec<X509>, String> {
    let certs = X509::stack_from_pem(pem)
        .map_err(|_| "`ca.crt` is not a PEM certificate bundle".to_owned())?;
    if certs.is_empty() {
        return Err("`ca.crt` holds no certificate".to_owned());
    }
    Ok(certs)
}

/// Ok if the DER certificate `der` chains to a certificate in `ca_pem` and names `host`.
pub(crate) fn verify(der: &[u8], host: &str, ca_pem: &[u8]) -> Result<(), String> {
    let leaf =
        X509::from_der(der).map_err(|_| "the server sent an unreadable certificate".to_owned())?;
    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for ca in parse_ca(ca_pem)? {
        store.add_cert(ca).map_err(|e| e.to_string())?;
    }
    let mut param = X509VerifyParam::new().map_err(|e| e.to_string())?;
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => param.set_ip(ip),
        Err(_) => param.set_host(host),
    }
    .map_err(|e| e.to_string())?;
    store.set_param(&param).map_err(|e| e.to_string())?;
    let store = store.build();
    let chain = Stack::new().map_err(|e| e.to_string())?;
    let mut context = X509StoreContext::new().map_err(|e| e.to_string())?;
    let (ok, reason) = context
        .init(&store, &leaf, &chain, |c| {
            let ok = c.verify_cert()?;
            Ok((ok, c.error().error_string().to_owned()))
        })
        .map_err(|e| e.to_string())?;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "not trusted by the auth Secret's `ca.crt`: {reason}"
        ))
    }
}
