//! The runner's traffic shape against a scripted fetcher: order, bounded concurrency, pacing,
//! and the method each mode uses.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::{Clock, ManualClock};
use crate::model::ContentHash;
use crate::verify::fetch::{Body, Fetch, FetchError, Method, Observed, Request};
use crate::verify::{verify, Item, Mode, Options, Verdict};

/// Answers from a table; records when and how each request started.
struct Scripted {
    answers: HashMap<String, Observed>,
    clock: ManualClock,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<(String, Method, i64)>>,
}

impl Scripted {
    fn new(clock: &ManualClock) -> Scripted {
        Scripted {
            answers: HashMap::new(),
            clock: clock.clone(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            seen: Mutex::default(),
        }
    }
}

impl Fetch for Scripted {
    #[allow(clippy::manual_async_fn)] // the trait's signature, spelled out
    fn fetch(&self, req: Request<'_>) -> impl Future<Output = Result<Observed, FetchError>> + Send {
        async move {
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(n, Ordering::SeqCst);
            self.seen.lock().unwrap().push((req.url.to_string(), req.method, self.clock.now_ms()));
            // Real time, so that several requests are in flight together.
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.answers.get(req.url).cloned().ok_or_else(|| FetchError { message: "connection refused".into() })
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn url(i: usize) -> String {
    format!("https://www.example.com/p{i}.html")
}

#[test]
fn results_come_in_input_order_with_bounded_concurrency() {
    let clock = ManualClock::new(0);
    let mut f = Scripted::new(&clock);
    let mut items = Vec::new();
    for i in 0..40 {
        let body = format!("page {i}");
        let mode = [Mode::Hash, Mode::Etag, Mode::Status][i % 3];
        let mut item = Item::new(url(i), "www.example.com", ContentHash::of(body.as_bytes())).mode(mode);
        if mode == Mode::Etag {
            item = item.etags(format!("\"e{i}\""), None);
        }
        items.push(item);
        if i % 10 != 7 {
            // Every 10th from the 7th on gets no answer; the hash items served 1-in-2 stale.
            let served = if i % 2 == 0 { body } else { format!("old {i}") };
            let obs =
                Observed { status: 200, body: Some(Body::of(served.as_bytes())), etag: Some(format!("\"e{i}\"")), ..Observed::default() };
            f.answers.insert(url(i), obs);
        }
    }
    let opts = Options { concurrency: 4, requests_per_second: None, ..Options::default() };
    let s = rt().block_on(verify(&items, &f, &opts, &clock));
    assert_eq!(s.results.iter().map(|r| r.url.clone()).collect::<Vec<_>>(), (0..40).map(url).collect::<Vec<_>>());
    assert_eq!(f.max_in_flight.load(Ordering::SeqCst), 4, "four at once, never more");
    for (i, r) in s.results.iter().enumerate() {
        let want = if i % 10 == 7 {
            "error"
        } else if items[i].mode == Mode::Hash && i % 2 == 1 {
            "different"
        } else {
            "fresh"
        };
        assert_eq!(r.verdict.as_str(), want, "{i}: {r:?}");
    }
    assert_eq!(s.errors, 4);
    let seen = f.seen.lock().unwrap();
    for (u, method, _) in seen.iter() {
        let i: usize = u.trim_start_matches("https://www.example.com/p").trim_end_matches(".html").parse().unwrap();
        assert_eq!(*method, if i.is_multiple_of(3) { Method::Get } else { Method::Head }, "{u}");
    }
}

#[test]
fn requests_start_no_faster_than_the_rate() {
    let clock = ManualClock::new(1_000_000);
    let f = Scripted::new(&clock);
    let items: Vec<Item> = (0..25).map(|i| Item::new(url(i), "www.example.com", ContentHash::of(b"x"))).collect();
    let opts = Options { concurrency: 8, requests_per_second: NonZeroU32::new(10), ..Options::default() };
    let s = rt().block_on(verify(&items, &f, &opts, &clock));
    assert_eq!(s.checked, 25);
    let mut starts: Vec<i64> = f.seen.lock().unwrap().iter().map(|(_, _, t)| *t).collect();
    starts.sort_unstable();
    for (i, &t) in starts.iter().enumerate() {
        let in_second = starts[i..].iter().take_while(|&&u| u < t + 1000).count();
        assert!(in_second <= 10, "{in_second} requests in the second from {t}: {starts:?}");
    }
    assert!(starts[24] - starts[0] >= 2400, "25 requests at 10/s span at least 2.4 s: {starts:?}");
}

#[test]
fn zero_concurrency_means_one_and_no_items_is_all_fresh() {
    let clock = ManualClock::new(0);
    let f = Scripted::new(&clock);
    let items: Vec<Item> = (0..3).map(|i| Item::new(url(i), "www.example.com", ContentHash::of(b"x"))).collect();
    let opts = Options { concurrency: 0, requests_per_second: None, ..Options::default() };
    let s = rt().block_on(verify(&items, &f, &opts, &clock));
    assert_eq!(f.max_in_flight.load(Ordering::SeqCst), 1);
    assert!(s.results.iter().all(|r| matches!(r.verdict, Verdict::Error { .. })));
    assert_eq!(s.exit_code(), 1, "nothing answered: nothing proven");
    let empty = rt().block_on(verify(&[], &f, &opts, &clock));
    assert_eq!((empty.checked, empty.exit_code()), (0, 0));
}
