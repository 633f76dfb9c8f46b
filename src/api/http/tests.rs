//! The transport against hostile servers on 127.0.0.1: answers that announce or send more than
//! the cap, that never end, or that trickle; each ends as a transport failure, in bounded memory
//! and time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// How a hostile server answers.
#[derive(Clone, Copy)]
enum Answer {
    /// A small, normal answer.
    Small,
    /// Announces 2 GiB in Content-Length, sends a little.
    Announced,
    /// A chunked body that never ends, as fast as the socket takes it.
    Endless,
    /// A chunked body that never ends, one byte every 50 ms.
    Trickle,
}

/// Serve one connection on 127.0.0.1 with `answer`; the task ends when the client hangs up.
async fn server(answer: Answer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else { return };
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = match answer {
            Answer::Small => s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await,
            Answer::Announced => s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n{\"Response\":").await,
            Answer::Endless | Answer::Trickle => {
                if s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await.is_err() {
                    return;
                }
                let chunk: Vec<u8> = if matches!(answer, Answer::Endless) {
                    let mut c = b"10000\r\n".to_vec();
                    c.extend(std::iter::repeat_n(b'x', 0x10000));
                    c.extend_from_slice(b"\r\n");
                    c
                } else {
                    b"1\r\nx\r\n".to_vec()
                };
                loop {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                    if matches!(answer, Answer::Trickle) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        };
    });
    url
}

fn post(url: &str) -> Request {
    Request { method: "POST", url: url.to_string(), headers: vec![], body: b"{}".to_vec() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Send to a server answering so; a hang fails the test after 30 s instead of stalling it.
fn exchange(answer: Answer, timeout: Duration, max_body: usize) -> Result<(u16, Vec<u8>), Failure> {
    runtime().block_on(async {
        let url = server(answer).await;
        let t = Transport::new(timeout).unwrap().with_max_body(max_body);
        tokio::time::timeout(Duration::from_secs(30), t.send(post(&url))).await.expect("the transport gave up by itself")
    })
}

#[track_caller]
fn failure(r: Result<(u16, Vec<u8>), Failure>) -> (String, bool) {
    match r {
        Err(Failure::Transport { message, maybe_sent }) => (message, maybe_sent),
        other => panic!("expected a transport failure, got {other:?}"),
    }
}

#[test]
fn a_small_answer_is_read() {
    assert_eq!(exchange(Answer::Small, Duration::from_secs(5), MAX_REPLY_BYTES).unwrap(), (200, b"{}".to_vec()));
}

#[test]
fn an_answer_announcing_more_than_the_cap_is_not_read() {
    let (message, maybe_sent) = failure(exchange(Answer::Announced, Duration::from_secs(5), MAX_REPLY_BYTES));
    assert!(message.contains("larger than 8 MiB") && message.contains("2147483648 bytes announced"), "{message}");
    assert!(maybe_sent, "the request was sent: a submission must be looked up");
}

#[test]
fn an_endless_answer_stops_at_the_cap() {
    let (message, maybe_sent) = failure(exchange(Answer::Endless, Duration::from_secs(30), 1 << 20));
    assert!(message.contains("larger than 1 MiB") && message.contains("bytes sent"), "{message}");
    assert!(maybe_sent);
    let (message, _) = failure(exchange(Answer::Endless, Duration::from_secs(30), MAX_REPLY_BYTES));
    assert!(message.contains("larger than 8 MiB"), "the default cap holds too: {message}");
}

#[test]
fn a_trickling_answer_ends_with_the_timeout() {
    let (message, maybe_sent) = failure(exchange(Answer::Trickle, Duration::from_secs(1), MAX_REPLY_BYTES));
    assert!(message.to_lowercase().contains("timed out"), "{message}");
    assert!(maybe_sent);
}

#[test]
fn sizes_read_well() {
    assert_eq!(size(8 << 20), "8 MiB");
    assert_eq!(size(512 << 10), "512 KiB");
    assert_eq!(size(100), "100 bytes");
}
