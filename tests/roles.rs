//! Role credentials end to end against the loopback fakes of the CVM metadata service and STS:
//! the fetchers of `api::roles` behind the refreshing provider, over simulated days, so that the
//! credentials handed out are live at every request and are fetched again before they expire.

use std::sync::Arc;
use std::time::Duration;

use cdnsync::api::http::Transport;
use cdnsync::api::roles::{AssumeRole, AssumeRoleFetch, CvmRoleFetch, OidcFetch};
use cdnsync::clock::{Clock, ManualClock};
use cdnsync::config::parse_endpoint;
use cdnsync::credentials::oidc::TkeOidc;
use cdnsync::credentials::provider::{CredentialProvider, Refreshing};
use cdnsync::credentials::{CredentialSource, Credentials, CredentialsError};
use cdnsync::fake::metadata::{FakeMetadata, MetadataConfig};
use cdnsync::fake::sts::{FakeSts, StsConfig, TokenCheck};

const T0_MS: i64 = 1_750_000_000_000;
const BASE_ID: &str = "AKIDbase00000000000000000000000001";
const BASE_KEY: &str = "baseSeKrEt0000000000000000000001";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";
const OIDC_TOKEN: &str = "eyJoidc.ToKeN.one";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn transport() -> Transport {
    Transport::new(Duration::from_secs(5)).unwrap()
}

fn sts(clock: &ManualClock) -> FakeSts {
    FakeSts::start(StsConfig {
        secret_id: BASE_ID.into(),
        secret_key: BASE_KEY.into(),
        roles: vec![ARN.into()],
        provider_id: "tke-oidc".into(),
        web_identity_token: OIDC_TOKEN.into(),
        clock: Arc::new(clock.clone()),
    })
    .unwrap()
}

fn secret_free(e: &CredentialsError) -> String {
    let s = format!("{e}\n{e:?}");
    assert!(!s.contains("SeKrEt") && !s.contains("ToKeN") && !s.contains("tmpkey") && !s.contains("tmptoken"), "{s}");
    s
}

/// Ask `p` for credentials every `step` for `span`, checking each against `live`.
async fn run_for(
    p: &dyn CredentialProvider,
    clock: &ManualClock,
    step: Duration,
    span: Duration,
    live: impl Fn(&Credentials, i64) -> TokenCheck,
) {
    let steps = span.as_secs() / step.as_secs();
    for _ in 0..steps {
        let c = p.current().await.unwrap();
        let now = clock.now_unix();
        assert_eq!(live(&c, now), TokenCheck::Valid, "credentials handed out at {now} are not live: {c:?}");
        assert!(c.expires_at.unwrap() - now >= 60, "handed out a minute before expiry: {c:?}");
        clock.advance(step);
    }
}

fn check_with(f: impl Fn(&str, &str, &str, i64) -> TokenCheck) -> impl Fn(&Credentials, i64) -> TokenCheck {
    move |c, now| f(&c.secret_id, c.secret_key.expose(), c.token.as_ref().unwrap().expose(), now)
}

#[test]
fn cvm_role_credentials_refresh_across_two_days() {
    let clock = ManualClock::new(T0_MS);
    let md = FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: 3600, clock: Arc::new(clock.clone()) })
        .unwrap();
    let p = Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: None }, Arc::new(clock.clone()));
    rt().block_on(async {
        let first = p.current().await.unwrap();
        assert_eq!(first.source, CredentialSource::CvmRole { role: "web-purger".into() });
        assert!(
            first.describe(clock.now_unix()).starts_with("CVM role web-purger (SecretId AKID…"),
            "{}",
            first.describe(clock.now_unix())
        );
        run_for(&p, &clock, Duration::from_secs(60), Duration::from_secs(2 * 86_400), check_with(|a, b, c, n| md.check(a, b, c, n))).await;
    });
    let issued = md.issued().len();
    assert!((50..=60).contains(&issued), "{issued} credential sets in two days of 1 h ones");
    // Each fetch asks the role's name, then its credentials.
    assert!(md.requests().iter().any(|r| r.ends_with("cam/security-credentials/")));
}

#[test]
fn cvm_role_named_in_config_and_the_errors() {
    let clock = ManualClock::new(T0_MS);
    let md = FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: 3600, clock: Arc::new(clock.clone()) })
        .unwrap();
    let named =
        Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: Some("web-purger".into()) }, Arc::new(clock.clone()));
    let wrong =
        Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: Some("other".into()) }, Arc::new(clock.clone()));
    let any = Refreshing::new(CvmRoleFetch { transport: transport(), base: md.url(), role: None }, Arc::new(clock.clone()));
    rt().block_on(async {
        named.current().await.unwrap();
        assert_eq!(md.requests(), ["/latest/meta-data/cam/security-credentials/web-purger"], "no name lookup when the role is named");
        let e = wrong.current().await.unwrap_err();
        assert!(secret_free(&e).contains("HTTP 404"), "{e}");
        md.set_role(None);
        let e = any.current().await.unwrap_err();
        assert!(secret_free(&e).contains("no CAM role is bound"), "{e}");
    });
}

#[test]
fn assume_role_refreshes_and_invalidate_fetches_anew() {
    let clock = ManualClock::new(T0_MS);
    let fake = sts(&clock);
    let base = Credentials::new(BASE_ID, BASE_KEY, None)
        .from_source(CredentialSource::Tccli { profile: "work".into(), path: "/home/u/.tccli/work.credential".into() });
    let fetch = AssumeRoleFetch {
        transport: transport(),
        endpoint: parse_endpoint(&fake.url(), "/").unwrap(),
        base,
        params: AssumeRole { role_arn: ARN.into(), role_session_name: "cdnsync".into(), duration_secs: 900 },
        clock: Arc::new(clock.clone()),
    };
    let p = Refreshing::new(fetch, Arc::new(clock.clone()));
    rt().block_on(async {
        let c = p.current().await.unwrap();
        let source = c.source.to_string();
        assert!(source.contains(&format!("role {ARN} (assumed with tccli profile work")), "{source}");
        run_for(&p, &clock, Duration::from_secs(30), Duration::from_secs(6 * 3600), check_with(|a, b, d, n| fake.check(a, b, d, n))).await;
        let before = fake.issued().len();
        // The API said AuthFailure.TokenFailure: the next request gets new credentials.
        p.invalidate();
        let fresh = p.current().await.unwrap();
        assert_eq!(fake.issued().len(), before + 1);
        assert_eq!(fresh.secret_id, fake.issued().last().unwrap().secret_id);
    });
    let n = fake.issued().len();
    assert!((30..=40).contains(&n), "{n} AssumeRole calls in 6 h of 15-minute credentials");
}

#[test]
fn assume_role_refusals_name_the_code_never_the_keys() {
    let clock = ManualClock::new(T0_MS);
    let fake = sts(&clock);
    let fetch = |key: &str, arn: &str| AssumeRoleFetch {
        transport: transport(),
        endpoint: parse_endpoint(&fake.url(), "/").unwrap(),
        base: Credentials::new(BASE_ID, key, None),
        params: AssumeRole { role_arn: arn.into(), role_session_name: "cdnsync".into(), duration_secs: 7200 },
        clock: Arc::new(clock.clone()),
    };
    rt().block_on(async {
        let e = Refreshing::new(fetch("wrongSeKrEt", ARN), Arc::new(clock.clone())).current().await.unwrap_err();
        assert!(secret_free(&e).contains("AuthFailure.SignatureFailure"), "{e}");
        let e = Refreshing::new(fetch(BASE_KEY, "qcs::cam::uin/1:roleName/nope"), Arc::new(clock.clone())).current().await.unwrap_err();
        assert!(secret_free(&e).contains("InvalidParameter.RoleNotExist"), "{e}");
        fake.fail_next("InternalError");
        let e = Refreshing::new(fetch(BASE_KEY, ARN), Arc::new(clock.clone())).current().await.unwrap_err();
        assert!(matches!(e, CredentialsError::Sts { ref code, .. } if code == "InternalError"), "{e}");
    });
    assert!(fake.issued().is_empty());
}

#[test]
fn oidc_reads_the_token_file_at_each_refresh() {
    let clock = ManualClock::new(T0_MS);
    let fake = sts(&clock);
    let tmp = tempfile::tempdir().unwrap();
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, format!("{OIDC_TOKEN}\n")).unwrap();
    let tf = token_file.to_str().unwrap().to_string();
    let env = move |k: &str| {
        Some(match k {
            "TKE_REGION" => "ap-guangzhou".to_string(),
            "TKE_PROVIDER_ID" => "tke-oidc".to_string(),
            "TKE_WEB_IDENTITY_TOKEN_FILE" => tf.clone(),
            "TKE_ROLE_ARN" => ARN.to_string(),
            _ => return None,
        })
    };
    let fetch = OidcFetch {
        transport: transport(),
        endpoint: parse_endpoint(&fake.url(), "/").unwrap(),
        tke: TkeOidc::from_env(&env).unwrap(),
        duration_secs: 3600,
        session_name: None,
        clock: Arc::new(clock.clone()),
    };
    let p = Refreshing::new(fetch, Arc::new(clock.clone()));
    rt().block_on(async {
        let c = p.current().await.unwrap();
        assert_eq!(c.source, CredentialSource::Oidc { role_arn: ARN.into() });
        run_for(&p, &clock, Duration::from_secs(60), Duration::from_secs(3 * 3600), check_with(|a, b, d, n| fake.check(a, b, d, n))).await;
        // A token the provider no longer accepts (TKE rotated it, the file did not follow).
        std::fs::write(&token_file, "eyJstale.ToKeN.two").unwrap();
        p.invalidate();
        let e = p.current().await.unwrap_err();
        assert!(secret_free(&e).contains("InvalidParameter.WebIdentityTokenError"), "{e}");
    });
    assert!(fake.calls().iter().all(|a| a == "AssumeRoleWithWebIdentity"));
}
