//! The fake is strict where the real API is: a wrong Area, an over-size batch, a bad URL, a
//! stale timestamp and a burst over 20 requests/s are all refused.

use std::sync::Arc;

use cdnsync::api::{v3::V3Client, CdnApi, Failure};
use cdnsync::clock::{Clock, ManualClock, SystemClock};
use cdnsync::config::validate::parse_endpoint;
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, Job, JobKind, JobStatus};

use crate::util::{SECRET_ID, SECRET_KEY};

fn client(fake: &FakeCdn, clock: Arc<dyn Clock>) -> V3Client {
    V3Client {
        transport: cdnsync::api::http::Transport::new(std::time::Duration::from_secs(5)).unwrap(),
        endpoint: parse_endpoint(&fake.url(), "/").unwrap(),
        credentials: Credentials::new(SECRET_ID, SECRET_KEY, None),
        region: None,
        clock,
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
