//! The fake edge's HTTP/1.1 on the wire: read a request head (GET/HEAD; any body is skipped),
//! write an answer in one write. Keep-alive unless the client says `Connection: close`.
//! Its own small reader, so the edge depends on nothing inside the fake API's server.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request head.
#[derive(Clone, Debug)]
pub struct Head {
    pub method: String,
    /// The request target as sent (path and query, still encoded).
    pub target: String,
    /// `(lower-case name, value)`, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

const MAX_HEAD: usize = 16 * 1024;
const MAX_SKIPPED_BODY: usize = 1024 * 1024;

/// Read one request head; `Ok(None)` when the peer closed the connection or sent garbage.
pub async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Head>> {
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target)) = (first.next(), first.next()) else { return Ok(None) };
    let head = Head {
        method: method.to_string(),
        target: target.to_string(),
        headers: lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect(),
    };
    let body: usize = head.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if body > MAX_SKIPPED_BODY {
        return Ok(None);
    }
    while buf.len() < end + 4 + body {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..end + 4 + body);
    Ok(Some(head))
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: std::sync::Arc<Vec<u8>>,
}

/// Write `a` (without its body for HEAD, but with its length).
pub async fn write(stream: &mut TcpStream, a: &Answer, head_only: bool) -> std::io::Result<()> {
    let reason = match a.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Status",
    };
    let mut msg = format!("HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\n", a.status, a.body.len());
    for (k, v) in &a.headers {
        msg.push_str(k);
        msg.push_str(": ");
        msg.push_str(v);
        msg.push_str("\r\n");
    }
    msg.push_str("\r\n");
    let mut bytes = msg.into_bytes();
    if !head_only {
        // One write: a head and a body written apart meet Nagle's algorithm and delayed ACKs.
        bytes.extend_from_slice(&a.body);
    }
    stream.write_all(&bytes).await?;
    stream.flush().await
}
