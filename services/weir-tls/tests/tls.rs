//! End-to-end TLS tests: a local CA in a tempdir, a tiny router served with
//! `serve_tls`, and hyper clients over tokio-rustls trusting the CA.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Request, Version};
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use weir_tls::{
    client_config, client_config_with_identity, serve_tls, tls_config, LocalCa, PeerCertificates,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn hello(ConnectInfo(peer): ConnectInfo<SocketAddr>, version: Version) -> String {
    format!("hello {version:?} from {}", peer.ip())
}

async fn peer(certs: Option<Extension<PeerCertificates>>) -> String {
    match certs {
        Some(Extension(PeerCertificates(chain))) => format!("client certs: {}", chain.len()),
        None => "no client certs".to_owned(),
    }
}

struct Server {
    addr: SocketAddr,
    ca: LocalCa,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start(dir: &Path, mutual: bool) -> Server {
    let ca = LocalCa::load_or_create(dir, &["weir.internal".to_owned()]).expect("CA");
    let client_ca = ca.ca_cert_path();
    let config = tls_config(
        &ca.server_cert_path(),
        &ca.server_key_path(),
        mutual.then_some(client_ca.as_path()),
    )
    .expect("config");
    let router = Router::new()
        .route("/hello", get(hello))
        .route("/peer", get(peer));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_tls(listener, router, Arc::new(config), async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        ca,
        stop,
        task,
    }
}

/// GETs `path` over TLS with `config`; returns the negotiated ALPN and the body.
async fn fetch(
    addr: SocketAddr,
    server_name: &str,
    mut config: ClientConfig,
    h2: bool,
    path: &str,
) -> Result<(Option<String>, String), BoxError> {
    config.alpn_protocols = if h2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let connector = TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    let tls = connector
        .connect(ServerName::try_from(server_name.to_owned())?, tcp)
        .await?;
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let io = TokioIo::new(tls);
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        let req =
            Request::get(format!("https://{server_name}{path}")).body(Empty::<Bytes>::new())?;
        sender.send_request(req).await?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header("host", server_name)
            .body(Empty::<Bytes>::new())?;
        sender.send_request(req).await?
    };
    let body = response.into_body().collect().await?.to_bytes();
    Ok((alpn, String::from_utf8_lossy(&body).into_owned()))
}

fn trusting(ca: &LocalCa) -> ClientConfig {
    client_config(ca.ca_cert_pem().as_bytes()).expect("client config")
}

#[tokio::test]
async fn http1_and_http2_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), false).await;

    let (alpn, body) = fetch(
        server.addr,
        "localhost",
        trusting(&server.ca),
        false,
        "/hello",
    )
    .await
    .expect("http/1.1");
    assert_eq!(alpn.as_deref(), Some("http/1.1"));
    assert_eq!(body, "hello HTTP/1.1 from 127.0.0.1");

    let (alpn, body) = fetch(
        server.addr,
        "localhost",
        trusting(&server.ca),
        true,
        "/hello",
    )
    .await
    .expect("h2");
    assert_eq!(alpn.as_deref(), Some("h2"));
    assert_eq!(body, "hello HTTP/2.0 from 127.0.0.1");

    // The certificate also covers the IP and the extra name.
    for name in ["127.0.0.1", "weir.internal"] {
        let (_, body) = fetch(server.addr, name, trusting(&server.ca), false, "/hello")
            .await
            .expect(name);
        assert!(body.starts_with("hello"));
    }
    // ...but not other names.
    assert!(fetch(
        server.addr,
        "example.com",
        trusting(&server.ca),
        false,
        "/hello"
    )
    .await
    .is_err());

    let _ = server.stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("shuts down")
        .expect("task");
}

#[tokio::test]
async fn plaintext_and_silent_clients_do_not_hurt_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), false).await;

    // A client that connects and says nothing, held open throughout.
    let _silent = TcpStream::connect(server.addr).await.expect("connects");

    // A plaintext HTTP/1.1 request to the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).await.expect("connects");
    plain
        .write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("writes");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server closes the plaintext connection");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no HTTP response over plaintext"
    );

    // The server still answers TLS clients.
    let (_, body) = fetch(
        server.addr,
        "localhost",
        trusting(&server.ca),
        false,
        "/hello",
    )
    .await
    .expect("still serving");
    assert_eq!(body, "hello HTTP/1.1 from 127.0.0.1");

    // A client that does not trust the CA fails its handshake; others are unaffected.
    let stranger_dir = tempfile::tempdir().expect("tempdir");
    let stranger = LocalCa::load_or_create(stranger_dir.path(), &[]).expect("CA");
    assert!(fetch(
        server.addr,
        "localhost",
        trusting(&stranger),
        true,
        "/hello"
    )
    .await
    .is_err());
    assert!(fetch(
        server.addr,
        "localhost",
        trusting(&server.ca),
        true,
        "/hello"
    )
    .await
    .is_ok());
    let _ = server.stop.send(());
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), true).await;
    assert!(fetch(
        server.addr,
        "localhost",
        trusting(&server.ca),
        false,
        "/peer"
    )
    .await
    .is_err());

    let cert = std::fs::read(server.ca.server_cert_path()).expect("cert");
    let key = std::fs::read(server.ca.server_key_path()).expect("key");
    let with_identity =
        client_config_with_identity(server.ca.ca_cert_pem().as_bytes(), &cert, &key)
            .expect("config");
    let (_, body) = fetch(server.addr, "localhost", with_identity, true, "/peer")
        .await
        .expect("mutual TLS");
    assert_eq!(body, "client certs: 1");
    let _ = server.stop.send(());
}

#[test]
fn reloading_keeps_the_ca_and_reissues_on_new_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = LocalCa::load_or_create(dir.path(), &[]).expect("creates");
    assert!(first.reissued_server_cert());
    let server_pem = std::fs::read(first.server_cert_path()).expect("reads");

    let second = LocalCa::load_or_create(dir.path(), &[]).expect("reloads");
    assert_eq!(second.ca_cert_pem(), first.ca_cert_pem());
    assert!(!second.reissued_server_cert());
    assert_eq!(
        std::fs::read(second.server_cert_path()).expect("reads"),
        server_pem
    );

    let third = LocalCa::load_or_create(dir.path(), &["node-1.weir".to_owned()]).expect("reloads");
    assert_eq!(third.ca_cert_pem(), first.ca_cert_pem());
    assert!(third.reissued_server_cert());
    assert_ne!(
        std::fs::read(third.server_cert_path()).expect("reads"),
        server_pem
    );
    assert_eq!(
        third.server_names(),
        ["localhost", "127.0.0.1", "::1", "node-1.weir"]
    );
}

#[tokio::test]
async fn plaintext_serves_http1_and_h2c_prior_knowledge() {
    let router = Router::new().route("/hello", get(hello));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(weir_tls::serve_plain(listener, router, async {
        let _ = stopped.await;
    }));

    let io = TokioIo::new(TcpStream::connect(addr).await.expect("connects"));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .expect("h2c handshake");
    tokio::spawn(conn);
    let req = Request::get(format!("http://{addr}/hello"))
        .body(Empty::<Bytes>::new())
        .expect("request");
    let body = sender
        .send_request(req)
        .await
        .expect("h2c response")
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "hello HTTP/2.0 from 127.0.0.1");

    let io = TokioIo::new(TcpStream::connect(addr).await.expect("connects"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/hello")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let body = sender
        .send_request(req)
        .await
        .expect("response")
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "hello HTTP/1.1 from 127.0.0.1");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("shuts down")
        .expect("task")
        .expect("serve_plain");
}
