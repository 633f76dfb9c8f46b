//! Temporary credentials against the fake CDN API (API 3.0 and v2): it accepts those a fake STS or
//! metadata service issued while they live, refuses expired ones (`AuthFailure.TokenFailure`,
//! v2 4100), and a client whose credentials were revoked early gets fresh ones and sends its
//! request once more — once, and only when there are fresh ones.

use std::sync::Arc;
use std::time::Duration;

use cdnsync::api::http::Transport;
use cdnsync::api::roles::{AssumeRole, AssumeRoleFetch, CvmRoleFetch};
use cdnsync::api::{CdnApi, Class, Failure};
use cdnsync::clock::ManualClock;
use cdnsync::config::parse_endpoint;
use cdnsync::credentials::provider::Refreshing;
use cdnsync::credentials::{CredentialProvider, Credentials, SharedProvider};
use cdnsync::fake::metadata::{FakeMetadata, MetadataConfig};
use cdnsync::fake::sts::{FakeSts, StsConfig};
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, Job, JobKind};
use cdnsync::AnyApi;

const T0_MS: i64 = 1_750_000_000_000;
const BASE_ID: &str = "AKIDbase00000000000000000000000001";
const BASE_KEY: &str = "baseSeKrEt0000000000000000000001";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn transport() -> Transport {
    Transport::new(Duration::from_secs(5)).unwrap()
}

fn metadata(clock: &ManualClock, life: i64) -> FakeMetadata {
    FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: life, clock: Arc::new(clock.clone()) }).unwrap()
}

fn cdn(clock: &ManualClock, issuers: Vec<cdnsync::fake::sts::Issuer>) -> FakeCdn {
    FakeCdn::start(FakeConfig { clock: Arc::new(clock.clone()), issuers, ..FakeConfig::default() }).unwrap()
}

fn client(fake: &FakeCdn, api: &str, creds: impl Into<SharedProvider>, clock: &ManualClock) -> AnyApi {
    let text = format!(
        "publish_dir = \"p\"\n[provider]\napi = \"{api}\"\nendpoint = \"{}\"\ntimeout_secs = 5\n[[domain]]\nhost = \"www.example.com\"\n",
        fake.url()
    );
    let cfg = cdnsync::config::from_str(&text, std::path::Path::new("t.toml"), std::path::Path::new("/")).unwrap();
    cdnsync::api_for(&cfg, creds, Arc::new(clock.clone())).unwrap()
}

fn job(n: usize) -> Job {
    Job::planned(JobKind::PurgeUrls, Area::Mainland, "www.example.com", vec![format!("https://www.example.com/{n}.html")], 0, n)
}

/// The fake's outcomes of the purge requests so far.
fn outcomes(fake: &FakeCdn) -> Vec<String> {
    fake.requests().into_iter().filter(|r| r.action != "DescribePurgeQuota").map(|r| r.outcome).collect()
}

#[test]
fn live_temporary_credentials_are_accepted_and_expired_ones_refused() {
    for (api, refused) in [("v3", "AuthFailure.TokenFailure"), ("v2", "4100")] {
        let clock = ManualClock::new(T0_MS);
        let md = metadata(&clock, 600);
        let fake = cdn(&clock, vec![md.issuer()]);
        let creds = rt()
            .block_on(
                Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: None }, Arc::new(clock.clone())).current(),
            )
            .unwrap();
        // Held as they are, never refreshed: as a static provider would (an env token, say).
        let c = client(&fake, api, creds.clone(), &clock);
        rt().block_on(c.submit(&job(1))).unwrap();
        let mut wrong = creds.clone();
        wrong.token = Some(cdnsync::credentials::Secret::new("not-the-token"));
        let f = rt().block_on(client(&fake, api, wrong, &clock).submit(&job(2))).unwrap_err();
        assert!(matches!(&f, Failure::Api(e) if e.code == refused), "{api}: {f}");
        clock.advance(Duration::from_secs(601));
        let f = rt().block_on(c.submit(&job(3))).unwrap_err();
        assert!(matches!(&f, Failure::Api(e) if e.code == refused && e.message.contains("expired")), "{api}: {f}");
        assert_eq!(f.class(), Class::Permanent, "{api}: long-term handling of a refused key");
        assert_eq!(outcomes(&fake), ["ok", refused, refused], "{api}: a static key is not sent twice");
        assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 1);
    }
}

#[test]
fn a_revoked_cvm_role_token_is_replaced_and_the_request_sent_once_more() {
    for (api, refused) in [("v3", "AuthFailure.TokenFailure"), ("v2", "4100")] {
        let clock = ManualClock::new(T0_MS);
        let md = metadata(&clock, 3600);
        let fake = cdn(&clock, vec![md.issuer()]);
        let p: SharedProvider =
            Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: None }, Arc::new(clock.clone())).into();
        let c = client(&fake, api, p, &clock);
        rt().block_on(c.submit(&job(1))).unwrap();
        md.revoke_all();
        rt().block_on(c.submit(&job(2))).unwrap();
        assert_eq!(outcomes(&fake), ["ok", refused, "ok"], "{api}");
        assert_eq!(md.issued().len(), 2, "{api}: one fetch for the refused credentials");
        assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 2, "{api}");
    }
}

#[test]
fn a_revoked_assumed_role_is_assumed_again() {
    for api in ["v3", "v2"] {
        let clock = ManualClock::new(T0_MS);
        let sts = FakeSts::start(StsConfig {
            secret_id: BASE_ID.into(),
            secret_key: BASE_KEY.into(),
            roles: vec![ARN.into()],
            provider_id: String::new(),
            web_identity_token: String::new(),
            clock: Arc::new(clock.clone()),
        })
        .unwrap();
        let fake = cdn(&clock, vec![sts.issuer()]);
        let fetch = AssumeRoleFetch {
            transport: transport(),
            endpoint: parse_endpoint(&sts.url(), "/").unwrap(),
            base: Credentials::new(BASE_ID, BASE_KEY, None),
            params: AssumeRole { role_arn: ARN.into(), role_session_name: "cdnsync".into(), duration_secs: 7200 },
            clock: Arc::new(clock.clone()),
        };
        let c = client(&fake, api, Refreshing::new(fetch, Arc::new(clock.clone())), &clock);
        for n in 0..3 {
            rt().block_on(c.submit(&job(n))).unwrap();
        }
        sts.revoke_all();
        rt().block_on(c.submit(&job(3))).unwrap();
        assert_eq!(sts.calls(), ["AssumeRole", "AssumeRole"], "{api}");
        assert_eq!(fake.urls(JobKind::PurgeUrls, Area::Mainland).len(), 4, "{api}");
        // Twice refused: a revocation that does not end is a failure, not a loop.
        sts.fail_next("InternalError");
        sts.revoke_all();
        let f = rt().block_on(c.submit(&job(4))).unwrap_err();
        assert!(matches!(&f, Failure::Credentials { message } if message.contains("InternalError")), "{api}: {f}");
        assert_eq!(f.class(), Class::Transient, "{api}: the job stays owed");
    }
}

/// `watch` for a simulated half hour on credentials that live 6 seconds, with the engine, the fake
/// CDN and the fake metadata service or STS on one manual clock: every edit's purge goes out in
/// both areas, no sync fails, nothing stays owed — across dozens of expiries, early refreshes and
/// revocations (which the API answers with `AuthFailure.TokenFailure`).
fn watch_on_short_lived_credentials(mode: &str) {
    use cdnsync::credentials::Sources;
    use cdnsync::{Engine, SyncOptions};

    const PAGES: usize = 16;
    let clock = ManualClock::new(T0_MS);
    let md = metadata(&clock, 6);
    let sts = FakeSts::start(StsConfig {
        secret_id: BASE_ID.into(),
        secret_key: BASE_KEY.into(),
        roles: vec![ARN.into()],
        provider_id: String::new(),
        web_identity_token: String::new(),
        clock: Arc::new(clock.clone()),
    })
    .unwrap();
    let fake = cdn(&clock, vec![md.issuer(), sts.issuer()]);
    let provider = match mode {
        "cvm_role" => format!("credentials = \"cvm_role\"\nmetadata_endpoint = \"{}\"", md.url()),
        _ => format!("credentials = \"role\"\nrole_arn = \"{ARN}\"\nrole_duration_secs = 6\nsts_endpoint = \"{}\"", sts.url()),
    };
    let site = crate::util::TempSite::new(&fake, &provider, "");
    site.append_config("[watch]\nsettle_ms = 500\nmax_wait_ms = 2000");
    for i in 0..PAGES {
        site.write(&format!("p/{i}.html"), "v1");
    }
    let cfg = cdnsync::config::load(&site.dir.join("cdnsync.toml")).unwrap();
    let env = |k: &str| match k {
        "TENCENTCLOUD_SECRET_ID" => Some(BASE_ID.to_string()),
        "TENCENTCLOUD_SECRET_KEY" => Some(BASE_KEY.to_string()),
        _ => None,
    };
    let src = Sources { env: &env, home: None, system_sdk_file: None, uid: 0, now_unix: T0_MS / 1000 };
    let shared: Arc<dyn cdnsync::Clock> = Arc::new(clock.clone());
    let creds = cdnsync::api::provider::provider_for(&cfg.provider.credentials, None, &src, transport(), shared.clone()).unwrap().provider;
    let e = Engine::new(cfg.clone(), cdnsync::api_for(&cfg, creds, shared.clone()).unwrap(), shared);
    rt().block_on(e.sync(&SyncOptions::default(), &())).unwrap();

    let url = |i: usize| format!("https://www.example.com/p/{i}.html");
    let purged = |i: usize| Area::ALL.iter().all(|a| fake.urls(JobKind::PurgeUrls, *a).contains(&url(i)));
    let mut rng = fastrand::Rng::with_seed(5);
    let opts = cdnsync::watch::WatchOptions::default();
    let summary = rt().block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = cdnsync::watch::run(&e, &opts, &(), async {
            let _ = stop_rx.await;
        });
        let edits = async {
            for i in 0..PAGES {
                site.write(&format!("p/{i}.html"), "v2");
                for _ in 0..400 {
                    if purged(i) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                assert!(purged(i), "{mode}: the watcher stalled at edit {i}: {:?}", fake.requests());
                // Between edits: 1 to 9 simulated seconds, so the credentials of the last sync
                // are fresh, due for refresh or expired. Every fourth edit a second, with the
                // credentials revoked: the client still holds them as good, and the API refuses.
                if i % 4 == 3 {
                    clock.advance(Duration::from_secs(1));
                    md.revoke_all();
                    sts.revoke_all();
                } else {
                    clock.advance(Duration::from_millis(rng.u64(1000..9000)));
                }
            }
            // Stop only once nothing is owed: on the manual clock a shutdown's grace period
            // passes at once, so a sync still sending would be cut off.
            for _ in 0..400 {
                if e.owed().unwrap().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            let owed = e.owed().unwrap();
            assert!(owed.is_empty(), "{mode}: still owed after every edit was purged: {owed:?}");
            let _ = stop_tx.send(());
        };
        let (summary, ()) = tokio::join!(watcher, edits);
        summary.unwrap()
    });
    assert_eq!(summary.failed_syncs, 0, "{mode}");
    assert_eq!(summary.owed_at_exit, 0, "{mode}");
    let st = e.status().unwrap();
    assert_eq!((st.outbox.pending, st.outbox.failed), (0, 0), "{mode}");
    let issued = md.issued().len() + sts.issued().len();
    assert!(issued >= PAGES / 2, "{mode}: {issued} credential sets for {PAGES} edits over ≥ 16 s of 6 s credentials");
    let refused = fake.requests().iter().filter(|r| r.outcome == "AuthFailure.TokenFailure").count();
    assert!(refused >= 1, "{mode}: a revocation was never met, so the resend path was not exercised");
    assert!(fake.requests().iter().filter(|r| r.outcome != "ok").all(|r| r.outcome == "AuthFailure.TokenFailure"), "{mode}");
}

#[test]
fn watch_never_stalls_on_cvm_role_credentials_that_expire_every_six_seconds() {
    watch_on_short_lived_credentials("cvm_role");
}

#[test]
fn watch_never_stalls_on_assumed_role_credentials_that_expire_every_six_seconds() {
    watch_on_short_lived_credentials("role");
}
