//! The builder: each setter lands on its key, and a built config is validated as a file is.

use super::*;
use crate::config::from_str;

#[test]
fn every_setter_lands_on_its_key() {
    let b = Builder::new("/site", "public")
        .state_dir("/var/lib/cdnsync")
        .exclude("**/*.map")
        .credentials_file("creds.toml")
        .manifest_url("https://origin.example.com/.cdnsync/manifest")
        .if_no_state(crate::config::NoStateRule::Fail)
        .symlinks(Symlinks::Inside)
        .api(Api::V2)
        .endpoint("http://127.0.0.1:9000")
        .allow_plain_http(true)
        .region("ap-guangzhou")
        .timeout(Duration::from_secs(12))
        .signature_method(SignatureMethod::HmacSha256)
        .http_method(HttpMethod::Get)
        .v2_overseas(V2Overseas::Dedicated)
        .v2_prefetch_delay(Duration::from_secs(5))
        .domain("www.example.com", &[Area::Overseas])
        .prefetch("**/index.html")
        .purge_added(true)
        .domain("static.example.com", &[Area::Mainland])
        .scheme(Scheme::Http)
        .base_path("/assets")
        .include("css/**")
        .domain_exclude("css/old/**")
        .index_files(&["index.htm"])
        .index_aliases(&[IndexAlias::Bare])
        .origin("http://10.0.0.5:8080")
        .origin_wait(Duration::from_secs(30))
        .verify_mode(crate::config::VerifyMode::Etag)
        .verify_concurrency(3)
        .verify_requests_per_second(7)
        .connect_to("127.0.0.1:8081".parse().unwrap())
        .metrics("127.0.0.1:9464".parse().unwrap())
        .settle(Duration::from_millis(200))
        .max_wait(Duration::from_secs(2))
        .trigger_file(".deployed")
        .collapse(Collapse::Never)
        .concurrency(2)
        .requests_per_second(5)
        .batch(JobKind::PurgeUrls, 100)
        .batch(JobKind::PurgePaths, 50)
        .batch(JobKind::PrefetchUrls, 20)
        .retry_deadline(Duration::from_secs(60))
        .max_root_purges_per_day(0)
        .max_files(5000);
    let c = b.build().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.state_dir, Path::new("/var/lib/cdnsync"));
    assert!(c.exclude.is_match("js/app.js.map") && c.exclude.is_match(".deployed"));
    assert_eq!(c.credentials_file.as_deref(), Some(Path::new("/site/creds.toml")));
    assert_eq!(c.manifest_url.as_deref(), Some("https://origin.example.com/.cdnsync/manifest"));
    let p = &c.provider;
    assert_eq!((p.api, p.endpoint.url(), p.allow_plain_http), (Api::V2, "http://127.0.0.1:9000/v2/index.php".to_string(), true));
    assert_eq!(
        (p.region.as_deref(), p.timeout, p.v2_prefetch_delay),
        (Some("ap-guangzhou"), Duration::from_secs(12), Duration::from_secs(5))
    );
    assert_eq!((p.signature_method, p.http_method, p.v2_overseas), (SignatureMethod::HmacSha256, HttpMethod::Get, V2Overseas::Dedicated));
    let (d0, d1) = (&c.domains[0], &c.domains[1]);
    assert_eq!(d0.areas, [Area::Overseas]);
    assert!(d0.prefetch.is_match("a/index.html") && d0.purge_added && d0.include.is_match("x/y"));
    assert_eq!((d1.scheme.as_str(), d1.base_path.as_str(), d1.purge_added), ("http", "/assets/", false));
    assert!(d1.include.is_match("css/a.css") && !d1.include.is_match("a.html") && d1.exclude.is_match("css/old/a.css"));
    assert_eq!((d1.index_files.clone(), d1.alias_slash, d1.alias_bare), (vec!["index.htm".to_string()], false, true));
    assert_eq!((c.watch.settle, c.watch.max_wait), (Duration::from_millis(200), Duration::from_secs(2)));
    assert_eq!((d0.origin.as_deref(), d0.verify), (None, crate::config::VerifyMode::Hash));
    assert_eq!(
        (d1.origin.as_deref(), d1.origin_wait, d1.verify),
        (Some("http://10.0.0.5:8080"), Duration::from_secs(30), crate::config::VerifyMode::Etag)
    );
    assert_eq!((c.verify.concurrency, c.verify.requests_per_second, c.verify.connect_to), (3, 7, Some("127.0.0.1:8081".parse().unwrap())));
    assert_eq!(c.watch.metrics, Some("127.0.0.1:9464".parse().unwrap()));
    let l = &c.limits;
    assert_eq!((l.collapse, l.concurrency, l.requests_per_second), (Collapse::Never, 2, 5));
    assert_eq!((l.purge_urls_batch, l.purge_paths_batch, l.prefetch_batch), (100, 50, 20));
    assert_eq!((l.retry_deadline, l.max_root_purges_per_day), (Duration::from_secs(60), 0));
    assert_eq!((c.if_no_state.rule, c.if_no_state.from_key), (crate::config::NoStateRule::Fail, true));
    assert_eq!((l.retry_deadline, l.max_files), (Duration::from_secs(60), 5000));
    assert_eq!(c.symlinks, Symlinks::Inside);
    // The same text as a file gives the same config.
    let from_file = from_str(&b.to_toml(), Path::new("x"), Path::new("/site")).unwrap();
    assert_eq!(format!("{:?}", from_file.provider), format!("{:?}", c.provider));
}

#[test]
fn a_built_config_is_validated_as_a_file_is() {
    let e = Builder::new("/site", "public").concurrency(0).build().unwrap_err();
    let keys: Vec<_> = e.0.iter().map(|e| (e.key.as_str(), e.line, e.file.to_str().unwrap())).collect();
    assert_eq!(keys, [("limits.concurrency", None, BUILT_IN_CODE), ("domain", None, BUILT_IN_CODE)], "{e}");
    let e = Builder::new("/site", "public").endpoint("http://10.0.0.1:80").domain("a.com", &[Area::Mainland]).build().unwrap_err();
    assert!(e.to_string().contains("provider.endpoint: refusing plain http://"), "{e}");
    let e = Builder::new("/site", "public").domain("a..com", &[Area::Mainland]).base_path("/a/../b").build().unwrap_err();
    let mut keys: Vec<_> = e.0.iter().map(|e| e.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["domain[0].base_path", "domain[0].host"], "{e}");
}

#[test]
fn mistakes_only_code_can_make_are_errors_too() {
    let e = Builder::new("/site", "public")
        .base_path("/docs/")
        .prefetch("*.html")
        .timeout(Duration::from_millis(1500))
        .settle(Duration::from_micros(10_500))
        .retry_deadline(Duration::from_secs(0))
        .domain("a.com", &[Area::Mainland])
        .build()
        .unwrap_err();
    let got: Vec<_> = e.0.iter().map(|e| (e.key.as_str(), e.message.as_str())).collect();
    assert_eq!(got[0].0, "domain");
    assert!(got[0].1.contains("base_path was set before any .domain(..)"), "{e}");
    assert!(got[1].1.contains("prefetch was set before any .domain(..)"), "{e}");
    assert_eq!(got[2], ("provider.timeout_secs", "expected whole seconds, found 1.5s"));
    assert_eq!(got[3], ("watch.settle_ms", "expected whole milliseconds, found 10.5ms"));
    assert!(got[4].0 == "limits.retry_deadline_secs" && got[4].1.contains("from 1 to 86400"), "{e}");
    assert_eq!(got.len(), 5, "{e}");
}

#[test]
fn builds_an_edgeone_config() {
    let cfg = Builder::new("/site", "public")
        .api(Api::EdgeOne)
        .site(crate::config::Site::Intl)
        .domain("www.example.com", &[Area::Global])
        .zone_id("zone-2noz78a8ev6k")
        .method(crate::config::PurgeMethod::Delete)
        .build()
        .unwrap();
    assert_eq!(cfg.provider.endpoint.host, "teo.intl.tencentcloudapi.com");
    let d = &cfg.domains[0];
    assert_eq!(
        (d.areas.as_slice(), d.zone_id.as_deref(), d.method),
        (&[Area::Global][..], Some("zone-2noz78a8ev6k"), crate::config::PurgeMethod::Delete)
    );
    // A CDN area on an EdgeOne domain is the file's error.
    let e = Builder::new("/site", "public").api(Api::EdgeOne).domain("a.example.com", &[Area::Mainland]).build();
    assert!(e.unwrap_err().to_string().contains("domain[0].areas"));
}
