//! rustls client configs for internal traffic (control plane ↔ nodes).
//!
//! The binary uses reqwest; it can either pass [`client_config`] to
//! `ClientBuilder::use_preconfigured_tls`, or simply build
//! `reqwest::Certificate::from_pem(LocalCa::ca_cert_pem())`. This crate does not depend
//! on reqwest so that its TLS features stay the binary's choice.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::{crypto_provider, TlsError};

/// A root store holding every certificate in `ca_pem`.
pub fn root_store(ca_pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(ca_pem, "CA PEM")? {
        roots.add(cert)?;
    }
    Ok(roots)
}

/// A client config trusting only `ca_pem`, offering ALPN `h2` then `http/1.1`.
pub fn client_config(ca_pem: &[u8]) -> Result<ClientConfig, TlsError> {
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca_pem)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Like [`client_config`], presenting a client certificate for servers that require
/// one (see `tls_config`'s `client_ca`). The local CA's server certificate carries the
/// client-auth usage, so nodes can present it.
pub fn client_config_with_identity(
    ca_pem: &[u8],
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<ClientConfig, TlsError> {
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        what: "client key PEM".to_owned(),
        detail: e.to_string(),
    })?;
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca_pem)?)
        .with_client_auth_cert(parse_certs(cert_chain_pem, "client certificate PEM")?, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// All certificates in a PEM buffer; an error if there are none.
pub(crate) fn parse_certs(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what: what.to_owned(),
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what: what.to_owned(),
            detail: "no certificates found".to_owned(),
        });
    }
    Ok(certs)
}
