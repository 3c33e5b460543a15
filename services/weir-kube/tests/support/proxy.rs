//! A TCP proxy in front of the fake server that drops connections on demand: the next
//! request whose bytes contain an armed path loses its connection before any answer,
//! as when an API server restarts or a load balancer resets a connection.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::server::Inner;

pub(super) async fn start(
    backend: SocketAddr,
    inner: Arc<Inner>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let front = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let inner = Arc::clone(&inner);
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(backend).await {
                    pump(client, server, inner).await;
                }
            });
        }
    });
    (front, task)
}

async fn pump(client: TcpStream, server: TcpStream, inner: Arc<Inner>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buffer[..n];
            let armed = {
                let mut drops = inner.drops.lock();
                let text = String::from_utf8_lossy(chunk);
                let first_line = text.lines().next().unwrap_or("");
                let hit = drops
                    .iter()
                    .position(|path| first_line.contains(path.as_str()));
                hit.map(|i| drops.remove(i)).is_some()
            };
            if armed || server_write.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    // Whichever side ends first ends the connection, both ways: a dropped request closes
    // the client's connection with no answer.
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
