//! The only code that sends bytes: a reqwest (rustls) transport.

use std::time::Duration;

use super::Failure;

/// An HTTP client with the configured timeout.
#[derive(Clone, Debug)]
pub struct Transport {
    client: reqwest::Client,
}

/// One request, fully formed and signed. Its `Debug` hides the secrets it carries
/// (`api::redact`).
pub struct Request {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Full URL, query included.
    pub url: String,
    /// Headers, signed ones included.
    pub headers: Vec<(String, String)>,
    /// Body (empty for GET).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::redact::request(self.method, &self.url, &self.headers, &self.body, f)
    }
}

impl Transport {
    /// A client with this per-request timeout (rustls, HTTP/2 when offered).
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("cdnsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport { client })
    }

    /// Send and return the status and body.
    pub async fn send(&self, req: Request) -> Result<(u16, Vec<u8>), Failure> {
        // Redacted by Request's Debug; answers are never logged (STS and metadata ones hold keys).
        tracing::debug!("sending {req:?}");
        let method = if req.method == "GET" { reqwest::Method::GET } else { reqwest::Method::POST };
        let mut rb = self.client.request(method, &req.url);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if !req.body.is_empty() || req.method == "POST" {
            rb = rb.body(req.body);
        }
        let resp = rb.send().await.map_err(transport_failure)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport_failure)?;
        tracing::debug!("answered HTTP {status}, {} bytes", body.len());
        Ok((status, body.to_vec()))
    }
}

fn transport_failure(e: reqwest::Error) -> Failure {
    // The URL of a v2 GET carries the SecretId: never echo it.
    let e = e.without_url();
    // Only a failure to connect proves the request never left; anything later may have reached the API.
    let maybe_sent = !(e.is_connect() || e.is_builder());
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    Failure::Transport { message, maybe_sent }
}
