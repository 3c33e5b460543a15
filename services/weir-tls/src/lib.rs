//! TLS for Weir's listeners.
//!
//! - [`ca`]: a local certificate authority that `weir up` creates on first start, and a
//!   server certificate for loopback plus configured names, re-issued when they change
//!   or near expiry.
//! - [`server`]: rustls server configs (ALPN `h2` + `http/1.1`, optional client-cert
//!   verification) and [`serve_tls`], an accept loop that serves an axum router over
//!   HTTP/1.1 and HTTP/2 without letting slow or plaintext clients stall it.
//! - [`client`]: rustls client configs trusting the local CA, for internal traffic.
//!
//! Everything uses rustls's `ring` provider, passed explicitly rather than installed as
//! a process default, so builds need no cmake (aws-lc-rs) and no other crate's choice of
//! default provider can change ours.

pub mod ca;
pub mod client;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;

pub use ca::LocalCa;
pub use client::{client_config, client_config_with_identity, root_store};
pub use server::{serve_plain, serve_tls, tls_config, PeerCertificates, HANDSHAKE_TIMEOUT};

/// The crypto provider every config in this crate is built with.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a certificate, key or TLS config could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// PEM input held no usable certificate or key.
    #[error("{what}: {detail}")]
    Pem {
        /// Which input (a path, or a description).
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// The local CA's files are inconsistent.
    #[error("local CA: {0}")]
    Ca(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// rustls refused the configuration (e.g. a key that does not match the cert).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (e.g. an empty CA file).
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}
