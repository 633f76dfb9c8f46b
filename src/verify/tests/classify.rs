//! Verdict tables: each case is one answer and what it must mean.

use crate::model::ContentHash;
use crate::verify::classify::{explain, normalize_etag, verdict, Reason, MINIFIED_LINE};
use crate::verify::fetch::{Body, FetchError, Observed};
use crate::verify::{Item, Mode, Verdict};

fn h(s: &str) -> ContentHash {
    ContentHash::of(s.as_bytes())
}

fn ok(ctype: &str, body: &str) -> Observed {
    Observed { status: 200, body: Some(Body::of(body.as_bytes())), content_type: Some(ctype.into()), ..Observed::default() }
}

fn status(code: u16) -> Observed {
    Observed { status: code, ..Observed::default() }
}

fn diff(reasons: Vec<Reason>) -> Verdict {
    Verdict::Different { reasons }
}

#[test]
fn hash_mode_table() {
    let css = |body: &str| Item::new("https://www.example.com/site.css", "www.example.com", h(body));
    let new = "body { color: red }\n";
    let old = "body { color: blue }\n";
    let big = "x".repeat(2000);
    let long_line = format!("{}\n{}", "a".repeat(600), "b".repeat(600));
    let page = "\u{feff}  <!DOCTYPE html><title>Not found</title>";
    let cases: Vec<(&str, Item, Observed, Verdict)> = vec![
        ("the new bytes", css(new).previous(h(old)), ok("text/css", new), Verdict::Fresh),
        ("the old bytes", css(new).previous(h(old)), ok("text/css", old), Verdict::Stale),
        ("old bytes, previous unknown", css(new), ok("text/css", old), diff(vec![Reason::OtherBytes])),
        ("fresh even when unchanged", css(new).previous(h(new)), ok("text/css", new), Verdict::Fresh),
        (
            "another size",
            css(new).size(new.len() as u64),
            ok("text/css; charset=utf-8", "body{}"),
            diff(vec![Reason::Size { got: 6, expected: new.len() as u64 }]),
        ),
        (
            "an HTML page where a stylesheet was due",
            css(new).size(new.len() as u64),
            ok("text/html", page),
            diff(vec![
                Reason::HtmlPage,
                Reason::ContentType { got: "text/html".into(), expected: "text/css" },
                Reason::Size { got: page.len() as u64, expected: new.len() as u64 },
            ]),
        ),
        (
            "compressed although identity was asked",
            css(new),
            Observed { content_encoding: Some("gzip".into()), ..ok("text/css", "\u{1f}\u{8b}...") },
            diff(vec![Reason::ContentEncoding("gzip".into())]),
        ),
        (
            "identity is no encoding",
            css(new),
            Observed { content_encoding: Some("identity".into()), ..ok("text/css", new) },
            Verdict::Fresh,
        ),
        (
            "minified by the CDN",
            css(&big).size(4000),
            ok("text/css", &long_line),
            diff(vec![Reason::Size { got: 1201, expected: 4000 }, Reason::Minified { bytes: 1201, lines: 2 }]),
        ),
        (
            "short lines are not minified",
            css(&big).size(4000),
            ok("text/css", &"ab\n".repeat(400)),
            diff(vec![Reason::Size { got: 1200, expected: 4000 }]),
        ),
        (
            "over the size cap",
            css(new).size(10),
            Observed {
                content_length: Some(1 << 40),
                body: Some(Body { hash: None, bytes: 0, newlines: 0, prefix: vec![] }),
                ..ok("text/css", "")
            },
            diff(vec![Reason::TooLarge { announced: Some(1 << 40) }]),
        ),
        (
            "404",
            css(new),
            status(404),
            Verdict::Error { message: "HTTP 404: the CDN has no such URL (check base_path and the URL rules)".into() },
        ),
        (
            "a redirect is reported, not followed",
            css(new),
            Observed { location: Some("https://www.example.com/site.css/".into()), ..status(301) },
            Verdict::Error { message: "HTTP 301, redirected to https://www.example.com/site.css/".into() },
        ),
        ("503", css(new), status(503), Verdict::Error { message: "HTTP 503".into() }),
        ("a 2xx without a body", css(new), status(204), Verdict::Error { message: "no body was read".into() }),
    ];
    for (name, item, obs, want) in cases {
        assert_eq!(verdict(&item, &Ok(obs)), want, "{name}");
    }
}

#[test]
fn transport_errors_are_errors() {
    let item = Item::new("https://www.example.com/a.html", "www.example.com", h("a"));
    let e = Err(FetchError { message: "connection refused".into() });
    assert_eq!(verdict(&item, &e), Verdict::Error { message: "connection refused".into() });
}

#[test]
fn etag_and_status_modes() {
    let item = |mode| Item::new("https://www.example.com/a.html", "www.example.com", h("a")).mode(mode);
    let with = |etag: Option<&str>| Observed { status: 200, etag: etag.map(str::to_string), ..Observed::default() };
    let e = item(Mode::Etag).etags("\"new\"", Some("\"old\"".into()));
    let cases: Vec<(&str, Item, Observed, Verdict)> = vec![
        ("same ETag", e.clone(), with(Some("\"new\"")), Verdict::Fresh),
        ("weakened by the CDN", e.clone(), with(Some("W/\"new\"")), Verdict::Fresh),
        ("the old ETag", e.clone(), with(Some("\"old\"")), Verdict::Stale),
        (
            "another ETag",
            e.clone(),
            with(Some("\"zzz\"")),
            diff(vec![Reason::Etag { got: Some("\"zzz\"".into()), expected: "\"new\"".into() }]),
        ),
        ("no ETag at all", e.clone(), with(None), diff(vec![Reason::Etag { got: None, expected: "\"new\"".into() }])),
        (
            "no ETag, old unknown: never stale",
            item(Mode::Etag).etags("\"new\"", None),
            with(None),
            diff(vec![Reason::Etag { got: None, expected: "\"new\"".into() }]),
        ),
        (
            "etag mode without the origin's ETag",
            item(Mode::Etag),
            with(Some("\"new\"")),
            Verdict::Error { message: "etag mode needs the origin's ETag of the deployed file".into() },
        ),
        (
            "etag mode, error status",
            e,
            status(404),
            Verdict::Error { message: "HTTP 404: the CDN has no such URL (check base_path and the URL rules)".into() },
        ),
        ("status mode: any 2xx", item(Mode::Status), with(None), Verdict::Fresh),
        (
            "status mode: 403",
            item(Mode::Status),
            status(403),
            Verdict::Error { message: "HTTP 403: the CDN refused the request (access control, referer or IP rules?)".into() },
        ),
    ];
    for (name, item, obs, want) in cases {
        assert_eq!(verdict(&item, &Ok(obs)), want, "{name}");
    }
}

#[test]
fn etags_normalize() {
    for (raw, want) in [("\"abc\"", "abc"), ("W/\"abc\"", "abc"), (" \"abc\" ", "abc"), ("abc", "abc"), ("W/abc", "abc")] {
        assert_eq!(normalize_etag(raw), want, "{raw}");
    }
}

#[test]
fn directory_urls_expect_html_and_unknown_extensions_expect_nothing() {
    let html = "<!doctype html><p>hi</p>";
    let dir = Item::new("https://www.example.com/docs/", "www.example.com", h("other"));
    assert_eq!(explain(&dir, &ok("text/html", html)), [Reason::OtherBytes], "an HTML page is what a directory URL serves");
    let odd = Item::new("https://www.example.com/data.bin?v=2", "www.example.com", h("other"));
    assert_eq!(explain(&odd, &ok("application/x-whatever", "zz")), [Reason::OtherBytes]);
    let img = Item::new("https://www.example.com/a.png#x", "www.example.com", h("other"));
    assert_eq!(
        explain(&img, &ok("text/html", html)),
        [Reason::HtmlPage, Reason::ContentType { got: "text/html".into(), expected: "image/png" }]
    );
}

#[test]
fn reasons_explain_themselves_in_json() {
    let v = serde_json::to_value(Reason::Minified { bytes: 900, lines: 1 }).unwrap();
    assert_eq!(v, serde_json::json!({"code": "minified", "message": "looks minified by the CDN (900 bytes on 1 lines)"}));
    // A shrunken stylesheet with ordinary long lines (200 bytes each) is not called minified.
    let item = Item::new("https://www.example.com/s.css", "www.example.com", h("other")).size(10_000);
    let lines = format!("{}\n", "x".repeat(199)).repeat(20);
    assert_eq!(explain(&item, &ok("text/css", &lines)), [Reason::Size { got: 4000, expected: 10_000 }]);
    let one_line = "x".repeat(MINIFIED_LINE as usize);
    assert_eq!(explain(&item, &ok("text/css", &one_line))[1], Reason::Minified { bytes: MINIFIED_LINE, lines: 1 });
}
