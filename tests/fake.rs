//! The fake is strict where the real API is: a wrong Area, an over-size batch, a bad URL, a
//! stale timestamp and a burst over 20 requests/s are all refused; and a request it has no handler
//! for gets an error naming it.

use std::sync::Arc;

use cdnsync::api::{v3::V3Client, CdnApi, Failure};
use cdnsync::clock::{Clock, ManualClock, SystemClock};
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, Job, JobKind, JobStatus};
use cdnsync::AnyApi;

use crate::util::{SECRET_ID, SECRET_KEY};

fn client(fake: &FakeCdn, clock: Arc<dyn Clock>) -> V3Client {
    let text = format!(
        "publish_dir = \"p\"\n[provider]\nendpoint = \"{}\"\ntimeout_secs = 5\n[[domain]]\nhost = \"www.example.com\"\n",
        fake.url()
    );
    let cfg = cdnsync::config::from_str(&text, std::path::Path::new("t.toml"), std::path::Path::new("/")).unwrap();
    match cdnsync::api_for(&cfg, Credentials::new(SECRET_ID, SECRET_KEY, None), clock).unwrap() {
        AnyApi::V3(c) => c,
        AnyApi::V2(_) | AnyApi::EdgeOne(_) => unreachable!("api = v3 by default"),
    }
}

fn job(kind: JobKind, area: Area, urls: Vec<String>) -> Job {
    Job {
        id: "t".into(),
        kind,
        area,
        host: "www.example.com".into(),
        urls,
        status: JobStatus::Pending,
        task_id: None,
        error: None,
        attempts: 0,
        created_unix: 0,
        not_before_unix: None,
        maybe_sent_unix: None,
    }
}

fn code(r: Result<cdnsync::api::Accepted, Failure>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(Failure::Api(e)) => e.code,
        Err(other) => format!("{other:?}"),
    }
}

#[test]
fn fake_refuses_what_the_real_api_refuses() {
    let fake = FakeCdn::start(FakeConfig {
        domains: vec![
            ("www.example.com".into(), vec![Area::Mainland]),
            ("static.example.com".into(), vec![Area::Mainland, Area::Overseas]),
        ],
        ..FakeConfig::default()
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let c = client(&fake, Arc::new(SystemClock));
    let u = |n: usize| (0..n).map(|i| format!("https://www.example.com/{i}.html")).collect::<Vec<_>>();
    let cases: Vec<(Job, &str)> = vec![
        (job(JobKind::PurgeUrls, Area::Mainland, u(3)), "ok"),
        (job(JobKind::PurgeUrls, Area::Overseas, u(1)), "InvalidParameter.CdnParamError"),
        (job(JobKind::PurgeUrls, Area::Mainland, u(1001)), "LimitExceeded.CdnPurgeUrlExceedBatchLimit"),
        (job(JobKind::PrefetchUrls, Area::Mainland, u(501)), "LimitExceeded.CdnPushExceedBatchLimit"),
        (job(JobKind::PurgeUrls, Area::Mainland, vec!["www.example.com/a.html".into()]), "InvalidParameter.CdnParamError"),
        (job(JobKind::PurgeUrls, Area::Mainland, vec!["https://nope.example.org/a".into()]), "ResourceNotFound.CdnHostNotExists"),
        (job(JobKind::PurgePaths, Area::Mainland, vec!["https://www.example.com/a.html".into()]), "InvalidParameter.CdnParamError"),
        (job(JobKind::PurgePaths, Area::Overseas, vec!["https://static.example.com/img/".into()]), "ok"),
    ];
    for (j, want) in cases {
        assert_eq!(code(rt.block_on(c.submit(&j))), want, "{:?} {} x{}", j.kind, j.area, j.urls.len());
    }
    // A client whose clock is 10 minutes off is refused.
    let skewed = ManualClock::new(SystemClock.now_ms() - 600_000);
    let c2 = client(&fake, Arc::new(skewed));
    assert_eq!(code(rt.block_on(c2.submit(&job(JobKind::PurgeUrls, Area::Mainland, u(1))))), "AuthFailure.SignatureExpire");
    // A burst over 20 requests a second is throttled: on a stopped clock shared by the fake and
    // the client, all 30 requests fall in the same second however slow the machine is.
    let frozen = ManualClock::new(SystemClock.now_ms());
    let fake = FakeCdn::start(FakeConfig { clock: Arc::new(frozen.clone()), ..FakeConfig::default() }).unwrap();
    let c = client(&fake, Arc::new(frozen));
    let codes: Vec<String> = (0..30).map(|_| code(rt.block_on(c.submit(&job(JobKind::PurgeUrls, Area::Mainland, u(1)))))).collect();
    assert!(codes.iter().any(|c| c == "RequestLimitExceeded"), "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 20, "{codes:?}");
}

/// A request the fake has no handler for fails loudly: a named error the client shows, and an
/// entry in the request log, so a test that sends one by mistake fails with a reason.
#[test]
fn fake_names_requests_it_has_no_handler_for() {
    use cdnsync::api::sign::v2 as sign_v2;
    use cdnsync::config::SignatureMethod;
    use serde_json::{json, Value};

    let fake = FakeCdn::start(FakeConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| -> (u16, Value) {
        rt.block_on(async {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, serde_json::from_slice(&r.bytes().await.unwrap()).unwrap())
        })
    };
    let error = |(status, v): (u16, Value)| -> (u16, String, String) {
        let e = &v["Response"]["Error"];
        (status, e["Code"].as_str().unwrap_or_default().into(), e["Message"].as_str().unwrap_or_default().into())
    };
    let tc3 = |version: &str, action: &str| {
        http.post(fake.url())
            .header("Content-Type", "application/json")
            .header("X-TC-Version", version)
            .header("X-TC-Action", action)
            .header("X-TC-Timestamp", SystemClock.now_unix().to_string())
            .body("{}")
    };
    let scope = |service: &str| {
        format!("TC3-HMAC-SHA256 Credential={SECRET_ID}/2024-01-01/{service}/tc3_request, SignedHeaders=content-type;host, Signature=00")
    };

    // A TC3 service no handler speaks (CVM), routed by its credential scope.
    let (status, code, message) = error(send(tc3("2017-03-12", "DescribeInstances").header("Authorization", scope("cvm"))));
    assert_eq!((status, code.as_str()), (404, "InvalidAction"), "{message}");
    assert!(message.contains("cdnsync fake: no handler for TC3 service \"cvm\""), "{message}");
    assert!(message.contains("DescribeInstances"), "{message}");
    // EdgeOne's scope reaches EdgeOne, which checks the signature.
    let (status, code, message) = error(send(tc3("2022-09-01", "CreatePurgeTask").header("Authorization", scope("teo"))));
    assert_eq!((status, code.as_str()), (200, "AuthFailure.InvalidAuthorization"), "{message}");
    // An unsigned TC3 request (STS's AssumeRoleWithWebIdentity) is routed by X-TC-Version.
    let (status, code, message) = error(send(tc3("2018-08-13", "AssumeRoleWithWebIdentity")));
    assert_eq!((status, code.as_str()), (404, "InvalidAction"), "{message}");
    assert!(message.contains("cdnsync fake: no handler for X-TC-Version \"2018-08-13\""), "{message}");
    // ... and one with the CDN's version reaches the CDN, which refuses the missing signature.
    let (status, code, message) = error(send(tc3(cdnsync::api::v3::VERSION, "PurgeUrlsCache")));
    assert_eq!((status, code.as_str()), (200, "AuthFailure.InvalidAuthorization"), "{message}");
    // A plain GET of a path nobody serves (the CVM metadata service).
    let path = "/latest/meta-data/cam/security-credentials/";
    let (status, code, message) = error(send(http.get(format!("{}{path}", fake.url()))));
    assert_eq!((status, code.as_str()), (404, "InvalidAction"), "{message}");
    assert!(message.contains(&format!("cdnsync fake: no handler for GET {path}")), "{message}");
    // An action the CDN does not have, signed properly: the client reports the fake's reason.
    let c = client(&fake, Arc::new(SystemClock));
    match rt.block_on(c.call("PurgeEverything", &json!({}))) {
        Err(Failure::Api(e)) => {
            assert_eq!(e.code, "InvalidAction");
            assert!(e.message.contains("cdnsync fake: no handler for cdn action \"PurgeEverything\""), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    // The same for the legacy API, signed by hand.
    let mut params: Vec<(String, String)> = [
        ("Action", "DeleteCdnHost"),
        ("SecretId", SECRET_ID),
        ("Timestamp", &SystemClock.now_unix().to_string()),
        ("Nonce", "7"),
        ("SignatureMethod", "HmacSHA256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sts = sign_v2::string_to_sign("GET", &fake.addr().to_string(), "/v2/index.php", &params);
    params.push(("Signature".into(), sign_v2::signature(SECRET_KEY, SignatureMethod::HmacSha256, &sts)));
    let (status, v) = send(http.get(format!("{}/v2/index.php?{}", fake.url(), sign_v2::encode_params(&params))));
    assert_eq!((status, &v["code"], &v["codeDesc"]), (200, &json!(6100), &json!("ApiNotSupported")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("cdnsync fake: no handler for v2 action \"DeleteCdnHost\""), "{v}");

    let log: Vec<(String, String, String)> = fake.requests().into_iter().map(|r| (r.api.to_string(), r.action, r.outcome)).collect();
    let want = [
        ("none", "DescribeInstances", "InvalidAction"),
        ("teo", "CreatePurgeTask", "AuthFailure.InvalidAuthorization"),
        ("none", "AssumeRoleWithWebIdentity", "InvalidAction"),
        ("v3", "PurgeUrlsCache", "AuthFailure.InvalidAuthorization"),
        ("none", "GET /latest/meta-data/cam/security-credentials/", "InvalidAction"),
        ("v3", "PurgeEverything", "InvalidAction"),
        ("v2", "DeleteCdnHost", "6100"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(log, want);
    assert!(fake.accepted().is_empty());
}
