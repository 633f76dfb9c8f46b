//! The only code that sends bytes: a reqwest (rustls) transport.
//!
//! An answer is outside data of any size and pace: the body is read chunk by chunk up to a cap
//! ([`MAX_REPLY_BYTES`] for the API, more for a published manifest), and the whole exchange,
//! body included, is bounded by the configured timeout. Either limit ends the request as a
//! transport failure that may have reached the server (retried; a submission is looked up
//! first), never as an abort of the process.

use std::time::Duration;

use super::Failure;

/// The largest API answer read: the largest real one is a Describe*Tasks page of 1,000 task logs
/// (a few hundred KB with long URLs), so 8 MiB leaves a wide margin and still bounds memory.
pub const MAX_REPLY_BYTES: usize = 8 << 20;

/// An HTTP client with the configured timeout and a cap on the size of answers.
#[derive(Clone, Debug)]
pub struct Transport {
    client: reqwest::Client,
    max_body: usize,
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
    /// A client with this timeout for a whole exchange, answer included (rustls, HTTP/2 when
    /// offered), reading answers of at most [`MAX_REPLY_BYTES`].
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("cdnsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Transport { client, max_body: MAX_REPLY_BYTES })
    }

    /// The same client, reading answers of at most `bytes` (a published manifest is larger than
    /// any API answer).
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Send and return the status and body. The timeout covers the whole exchange (reqwest's
    /// total timeout runs until the body has been read), so a trickle of bytes cannot hold it.
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
        let mut resp = rb.send().await.map_err(transport_failure)?;
        let status = resp.status().as_u16();
        let too_large = |what: String| Failure::Transport {
            message: format!("the answer is larger than {} ({what}): not read", size(self.max_body)),
            maybe_sent: true,
        };
        if let Some(n) = resp.content_length().filter(|&n| n > self.max_body as u64) {
            return Err(too_large(format!("{n} bytes announced")));
        }
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(transport_failure)? {
            if body.len() + chunk.len() > self.max_body {
                // Dropping the answer closes the connection: nothing more is read.
                return Err(too_large(format!("more than {} bytes sent", body.len() + chunk.len())));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!("answered HTTP {status}, {} bytes", body.len());
        Ok((status, body))
    }
}

/// `8 MiB`, `512 KiB`, `100 bytes`.
fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
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

#[cfg(test)]
mod tests;
