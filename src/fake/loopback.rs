//! A small HTTP server on 127.0.0.1 for the fake's role endpoints ([`super::sts`],
//! [`super::metadata`]): one handler function, its own thread and runtime, stopped and joined
//! when dropped, so a test never leaves it running.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::http;

/// One request, as the handler sees it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// The handler's answer.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Answer { status, content_type: "application/json", body: v.to_string().into_bytes() }
    }

    /// A plain-text answer.
    pub fn text(status: u16, s: &str) -> Self {
        Answer { status, content_type: "text/plain", body: s.as_bytes().to_vec() }
    }
}

/// What answers each request.
pub type Handler = Arc<dyn Fn(&Request) -> Answer + Send + Sync>;

/// A running server. Stops when dropped.
pub struct Server(http::Background);

impl Server {
    /// Listen on an ephemeral port of 127.0.0.1 and answer with `handler`.
    pub fn start(name: &str, handler: Handler) -> std::io::Result<Server> {
        http::Background::start(name, 0, move |stream, _| connection(stream, handler.clone()), None).map(Server)
    }

    /// The loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.0.addr())
    }
}

async fn connection(mut stream: tokio::net::TcpStream, handler: Handler) {
    let mut buf = Vec::new();
    while let Ok(Some(r)) = http::read_request(&mut stream, &mut buf).await {
        let req = Request { method: r.method, path: r.path, headers: r.headers, body: r.body };
        let a = handler(&req);
        if http::write_body(&mut stream, a.status, a.content_type, &a.body).await.is_err() {
            return;
        }
    }
}
