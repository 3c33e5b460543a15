//! TLS server configs and the accept loop that serves an axum router over them.
//!
//! [`serve_tls`] accepts TCP connections and hands each to its own task, which does the
//! TLS handshake under [`HANDSHAKE_TIMEOUT`]. A client that is slow, silent, or speaks
//! plaintext HTTP to the TLS port only ever costs its own task: it is logged at debug
//! level and dropped, and the loop never waits for it. Connections are then served by
//! hyper-util's auto builder (HTTP/1.1, or HTTP/2 when the client sends the h2 preface,
//! as it does after negotiating ALPN `h2`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::client::{parse_certs, root_store};
use crate::{crypto_provider, TlsError};

/// How long a client gets to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/1.1 client gets to send its request headers (slowloris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The client's certificate chain, as a request extension, when the server requires
/// client certificates; handlers use it to identify internal callers.
#[derive(Clone, Debug)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// A server config from PEM files, offering ALPN `h2` and `http/1.1`.
///
/// With `client_ca`, clients must present a certificate signed by one of the CAs in
/// that file (mutual TLS, for internal traffic); without it, no client certificate is
/// asked for.
pub fn tls_config(
    cert_pem_path: &Path,
    key_pem_path: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let certs = parse_certs(&read(cert_pem_path)?, &cert_pem_path.display().to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&read(key_pem_path)?).map_err(|e| TlsError::Pem {
        what: key_pem_path.display().to_string(),
        detail: e.to_string(),
    })?;
    let builder = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(path) => {
            let roots = Arc::new(root_store(&read(path)?)?);
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots, crypto_provider()).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves.
///
/// Handlers can extract `ConnectInfo<SocketAddr>` (the peer address), and
/// [`PeerCertificates`] when client certificates are required. On shutdown the loop
/// stops accepting, asks open connections to finish (HTTP/2 GOAWAY, HTTP/1.1 close after
/// the current response) and returns once they have.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);

    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let router = router.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let Some(tls) = handshake(&acceptor, tcp, remote).await else {
                return;
            };
            let peer_certs = tls.get_ref().1.peer_certificates().map(|certs| {
                PeerCertificates(Arc::new(
                    certs.iter().map(|c| c.clone().into_owned()).collect(),
                ))
            });
            let service = router.map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                if let Some(certs) = &peer_certs {
                    req.extensions_mut().insert(certs.clone());
                }
                req
            });
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(tls),
                TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }

    drop(listener);
    graceful.shutdown().await;
}

/// The TLS handshake under [`HANDSHAKE_TIMEOUT`]; failures are the client's problem
/// (wrong protocol, bad certificate, gave up), so they are logged at debug and dropped.
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    // Responses are small and latency-bound; don't let Nagle hold them back.
    let _ = tcp.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            None
        }
    }
}

/// Per-connection accept errors are ignored; others (such as running out of file
/// descriptors) are logged and followed by a pause so the loop does not spin.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves `router` in plaintext on `listener` until `shutdown` resolves.
///
/// This is `axum::serve`, which already uses hyper-util's auto builder: with axum's
/// `http2` feature (enabled in this workspace) it serves HTTP/1.1 and h2c with prior
/// knowledge on the same port, which is what the JS v3 and Java v2 Kinesis clients send
/// on `http://`. Handlers get `ConnectInfo<SocketAddr>` exactly as under [`serve_tls`].
/// Connections have Nagle's algorithm off, as under TLS: a subscription's events are small
/// writes that must leave at once, not wait for the previous one's ACK (up to 40 ms with
/// the peer's delayed ACKs).
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not turn Nagle's algorithm off on a connection");
        }
    });
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
