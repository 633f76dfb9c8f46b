//! The `[watch] metrics` endpoint: `GET /metrics` (Prometheus text format) and `GET /healthz`
//! (200 while healthy or only quota-deferred, 503 with a reason otherwise), on exactly the
//! configured address and nothing else.
//!
//! It runs as a task on the caller's tokio runtime and stops when told ([`MetricsServer::shutdown`])
//! or dropped. A scraper gets one answer per connection; a client that sends nothing or too much
//! is cut off (5 s to send a head of at most 8 KiB), and at most 16 connections are served at
//! once, so a hostile client cannot pin the daemon.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::daemon::Metrics;
use crate::clock::Clock;

const MAX_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 16;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MetricsServer {
    /// Listen on `addr` (port 0: any free port) and serve `metrics` from a task of the current
    /// runtime; `clock` dates the scrape (seconds since the last deploy event).
    pub async fn bind(addr: SocketAddr, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(serve(listener, metrics, clock, rx));
        Ok(MetricsServer { addr, stop: Some(tx), task: Some(task) })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop listening and wait until the task has ended.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
    }
}

async fn serve(listener: TcpListener, metrics: Arc<Metrics>, clock: Arc<dyn Clock>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                // Over the limit: drop the connection unanswered rather than queue it.
                let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
                let (m, c, mut stop2) = (metrics.clone(), clock.clone(), stop.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop2.changed() => {}
                        _ = answer(stream, &m, c.as_ref()) => {}
                    }
                    drop(permit);
                });
            }
        }
    }
}

async fn answer(mut stream: TcpStream, metrics: &Metrics, clock: &dyn Clock) {
    let Ok(Some((method, path))) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await.unwrap_or(Ok(None)) else {
        return;
    };
    let (status, ctype, body) = route(&method, &path, metrics, clock);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut msg = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if status == 405 {
        msg.push_str("Allow: GET, HEAD\r\n");
    }
    msg.push_str("\r\n");
    let mut bytes = msg.into_bytes();
    if method != "HEAD" {
        bytes.extend_from_slice(body.as_bytes());
    }
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}

/// What to answer, PURE but for reading the metrics.
fn route(method: &str, path: &str, metrics: &Metrics, clock: &dyn Clock) -> (u16, &'static str, String) {
    if method != "GET" && method != "HEAD" {
        return (405, "text/plain", "only GET and HEAD\n".into());
    }
    match path.split('?').next().unwrap_or("") {
        "/metrics" => (200, CONTENT_TYPE, metrics.render(clock.now_ms())),
        "/healthz" => {
            let (status, body) = metrics.health().answer();
            (status, "text/plain; charset=utf-8", body)
        }
        _ => (404, "text/plain", "not found: try /metrics or /healthz\n".into()),
    }
}

/// The request line's method and target; `None` for anything malformed or too long.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<(String, String)>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") && !m.is_empty() => Ok(Some((m.to_string(), t.to_string()))),
        _ => Ok(None),
    }
}
