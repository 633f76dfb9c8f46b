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
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listen on an ephemeral port of 127.0.0.1 and answer with `handler`.
    pub fn start(name: &str, handler: Handler) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("fake runtime");
            rt.block_on(serve(listener, handler, rx));
        })?;
        Ok(Server { addr, stop: Some(tx), thread: Some(thread) })
    }

    /// The loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(listener: std::net::TcpListener, handler: Handler, mut stop: tokio::sync::watch::Receiver<bool>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("fake listener");
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let (h, mut stop2) = (handler.clone(), stop.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stop2.changed() => {}
                        _ = connection(stream, h) => {}
                    }
                });
            }
        }
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
