//! The same deploy against the legacy API, under each signing and overseas setting.

use cdnsync::model::{Area, JobKind};

use crate::util::*;

fn scenario(provider: &str) {
    let fake = fake();
    let site = TempSite::new(&fake, &format!("api = \"v2\"\nv2_prefetch_delay_secs = 0\n{provider}"), "");
    site.write("index.html", "v1");
    site.write("a b.html", "v1");
    site.write("gone.html", "v1");
    for i in 0..25 {
        site.write(&format!("d/{i:02}/index.html"), "v1");
    }
    site.run(&["sync"]).expect(0);
    site.write("index.html", "v2");
    site.write("a b.html", "v2");
    site.remove("gone.html");
    for i in 0..25 {
        site.write(&format!("d/{i:02}/index.html"), "v2");
    }
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    let j = out.json();
    assert!(j["jobs"].as_array().unwrap().iter().all(|j| j["status"] == "accepted"), "{j}");
    let mut want: Vec<String> = vec!["index.html".into(), "".into(), "a%20b.html".into(), "gone.html".into()];
    for i in 0..25 {
        want.push(format!("d/{i:02}/index.html"));
        want.push(format!("d/{i:02}/"));
    }
    let want = set(want.iter().map(|p| format!("https://www.example.com/{p}")));
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), want, "{provider} {area}");
        assert_eq!(fake.urls(JobKind::PrefetchUrls, area).len(), 52, "{provider} {area}");
    }
    let dedicated = provider.contains("dedicated");
    for r in fake.requests() {
        assert_eq!(r.api, "v2");
        assert_eq!(r.outcome, "ok", "{r:?}");
        if r.action == "CdnOverseaPushser" {
            assert!(r.size <= 20, "CdnOverseaPushser batch of {}", r.size);
        }
    }
    let actions: std::collections::BTreeSet<String> = fake.requests().into_iter().map(|r| r.action).collect();
    if dedicated {
        assert!(actions.contains("RefreshCdnOverSeaUrl") && actions.contains("CdnOverseaPushser"), "{actions:?}");
    } else {
        assert_eq!(actions, set(["FlushOrPushOverall"]));
    }
    // quota on v2 comes from the local ledger.
    let q = site.run(&["--json", "quota"]);
    q.expect(0);
    assert_eq!(q.json()["entries"]["purge_urls/mainland"]["available"], 10_000 - 54);
}

#[test]
fn v2_hmacsha1_get_overall() {
    scenario("signature_method = \"HmacSHA1\"\nhttp_method = \"GET\"\nv2_overseas = \"overall\"");
}

#[test]
fn v2_hmacsha256_post_overall() {
    scenario("signature_method = \"HmacSHA256\"\nhttp_method = \"POST\"\nv2_overseas = \"overall\"");
}

#[test]
fn v2_hmacsha1_get_dedicated() {
    scenario("signature_method = \"HmacSHA1\"\nhttp_method = \"GET\"\nv2_overseas = \"dedicated\"");
}

#[test]
fn v2_hmacsha256_post_dedicated() {
    scenario("signature_method = \"HmacSHA256\"\nhttp_method = \"POST\"\nv2_overseas = \"dedicated\"");
}

#[test]
fn v2_wrong_key_is_refused() {
    let fake = fake();
    let site = TempSite::new(&fake, "api = \"v2\"", "");
    site.write("a.html", "1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "2");
    let out = site.run_env(&["--json", "sync"], &[("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", "nope")]);
    out.expect(3);
    assert!(out.stdout.contains("\"4100\""), "{}", out.stdout);
}

#[test]
fn v2_fake_refuses_replayed_nonce_and_stale_timestamp() {
    use cdnsync::api::http::{Request, Transport};
    use cdnsync::api::sign::v2 as sign;
    use cdnsync::clock::{Clock, SystemClock};
    use std::sync::Arc;

    let fake = fake();
    let text =
        format!("publish_dir = \"p\"\n[provider]\napi = \"v2\"\nendpoint = \"{}\"\n[[domain]]\nhost = \"www.example.com\"\n", fake.url());
    let cfg = cdnsync::config::from_str(&text, std::path::Path::new("t.toml"), std::path::Path::new("/")).unwrap();
    let creds = cdnsync::credentials::Credentials::new(SECRET_ID, SECRET_KEY, None);
    let client = match cdnsync::api_for(&cfg, creds.clone(), Arc::new(SystemClock)).unwrap() {
        cdnsync::AnyApi::V2(c) => c,
        _ => unreachable!(),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let transport = Transport::new(std::time::Duration::from_secs(5)).unwrap();
    let send = |ts: i64, nonce: u32| {
        let params = vec![("urls.0".to_string(), "https://www.example.com/a.html".to_string())];
        let all = client.signed_params(&creds, "RefreshCdnOverSeaUrl", params, ts, nonce);
        let req = Request {
            method: "POST",
            url: format!("{}/v2/index.php", fake.url()),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: sign::encode_params(&all).into_bytes(),
        };
        let (_, body) = rt.block_on(transport.send(req)).unwrap();
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["code"].clone()
    };
    let now = SystemClock.now_unix();
    assert_eq!(send(now, 777), 0);
    assert_eq!(send(now, 777), 4500, "a reused Nonce is a replay");
    assert_eq!(send(now - 3600, 778), 4200, "an hour-old Timestamp has expired");
    assert_eq!(send(now, 779), 0);
}
