//! A minimal HTTP/1.1 server for the fake API: keep-alive, Content-Length bodies, and the
//! ability to drop a connection on purpose. Bound to 127.0.0.1 only.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One parsed request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What to do with a request.
pub enum Reply {
    /// A JSON body with this HTTP status.
    Json(u16, String),
    /// Any body, with this HTTP status and content type.
    Body(u16, &'static str, Vec<u8>),
    /// Close the connection without answering.
    Drop,
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Read one request; `Ok(None)` when the peer closed the connection.
pub async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<HttpRequest>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if len > MAX_BODY {
        return Err(std::io::Error::other("request body too large"));
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + len {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[body_start..body_start + len].to_vec();
    buf.drain(..body_start + len);
    Ok(Some(HttpRequest { method, path, query, headers, body }))
}

/// Write a JSON answer.
pub async fn write_json(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    write_body(stream, status, "application/json", body.as_bytes()).await
}

/// Write a response with any body.
pub async fn write_body(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    // One write: a head and a body written apart meet Nagle's algorithm and the client's delayed
    // ACK, and every answer would wait ~40 ms.
    msg.extend_from_slice(body);
    stream.write_all(&msg).await?;
    stream.flush().await
}

/// A listener on 127.0.0.1 served on a thread of its own (one current-thread runtime), each
/// connection in a task of its own. Dropping it stops the listener and every connection and joins
/// the thread, so a test never leaves a server running. Every loopback server of the fake (the
/// API, the role endpoints, the edge) runs on one.
pub struct Background {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Listen on 127.0.0.1:`port` (0: any free port); `connection` serves each accepted stream,
    /// given the peer's address; `tick`, if any, runs every so often on the server's thread.
    pub fn start<C, F>(
        name: &str,
        port: u16,
        connection: C,
        mut tick: Option<(std::time::Duration, Box<dyn FnMut() + Send>)>,
    ) -> std::io::Result<Background>
    where
        C: Fn(TcpStream, std::net::SocketAddr) -> F + Send + 'static,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, mut stop) = tokio::sync::watch::channel(false);
        let serve = async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("loopback listener");
            let mut every = tokio::time::interval(tick.as_ref().map_or(std::time::Duration::from_secs(3600), |t| t.0));
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = every.tick() => if let Some((_, f)) = tick.as_mut() { f() },
                    acc = listener.accept() => {
                        let Ok((stream, peer)) = acc else { continue };
                        let (conn, mut stop2) = (connection(stream, peer), stop.clone());
                        tokio::spawn(async move {
                            tokio::select! {
                                _ = stop2.changed() => {}
                                _ = conn => {}
                            }
                        });
                    }
                }
            }
        };
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("loopback runtime");
            rt.block_on(serve);
        })?;
        Ok(Background { addr, stop: Some(tx), thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
