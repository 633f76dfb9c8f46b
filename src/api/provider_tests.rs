//! Tests of `api::provider`: which provider each setting and source gives, against the fakes of
//! STS and the metadata service on 127.0.0.1 (never the real addresses).

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::config::validate::parse_endpoint;
use crate::credentials::files::current_uid;
use crate::credentials::CredentialSource;
use crate::fake::metadata::{FakeMetadata, MetadataConfig};
use crate::fake::sts::{FakeSts, StsConfig};

const T0: i64 = 1_750_000_000;
const ID: &str = "AKIDenv0000000000000000000000001";
const KEY: &str = "envSeKrEt000000000000000000000001";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";

fn env_keys(k: &str) -> Option<String> {
    match k {
        "TENCENTCLOUD_SECRET_ID" => Some(ID.into()),
        "TENCENTCLOUD_SECRET_KEY" => Some(KEY.into()),
        _ => None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn sources<'a>(env: &'a dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Sources<'a> {
    Sources { env, home: home.map(Into::into), system_sdk_file: None, uid: current_uid(), now_unix: T0 }
}

fn clock() -> ManualClock {
    ManualClock::new(T0 * 1000)
}

fn sts(clock: &ManualClock, id: &str, key: &str) -> FakeSts {
    FakeSts::start(StsConfig {
        secret_id: id.into(),
        secret_key: key.into(),
        roles: vec![ARN.into(), "qcs::cam::uin/100000000001:roleName/from-sdk".into()],
        provider_id: String::new(),
        web_identity_token: String::new(),
        clock: Arc::new(clock.clone()),
    })
    .unwrap()
}

fn settings(mode: CredentialsMode, sts: Option<&FakeSts>) -> CredentialSettings {
    CredentialSettings { mode, sts_endpoint: sts.map(|s| parse_endpoint(&s.url(), "/").unwrap()), ..CredentialSettings::default() }
}

fn build(s: &CredentialSettings, src: &Sources, clock: &ManualClock) -> Result<Resolved, CredentialsError> {
    provider_for(s, None, src, Transport::new(Duration::from_secs(5)).unwrap(), Arc::new(clock.clone()))
}

fn current(p: &SharedProvider) -> Result<crate::credentials::Credentials, CredentialsError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(p.current())
}

#[test]
fn auto_with_keys_is_static() {
    let c = clock();
    let r = build(&settings(CredentialsMode::Auto, None), &sources(&env_keys, None), &c).unwrap();
    let creds = current(&r.provider).unwrap();
    assert_eq!((creds.secret_id.as_str(), creds.source.clone(), creds.expires_at), (ID, CredentialSource::Environment, None));
}

#[test]
fn role_assumes_role_arn_with_the_chains_keys_and_the_configs_session_and_duration() {
    let c = clock();
    let fake = sts(&c, ID, KEY);
    let mut s = settings(CredentialsMode::Role, Some(&fake));
    s.role_arn = Some(ARN.into());
    s.role_session_name = Some("ci-run-42".into());
    s.role_duration_secs = Some(900);
    let p = build(&s, &sources(&env_keys, None), &c).unwrap().provider;
    let creds = current(&p).unwrap();
    let issued = fake.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!((issued[0].role.as_str(), issued[0].session_name.as_str()), (ARN, "ci-run-42"));
    assert_eq!(creds.secret_id, issued[0].secret_id);
    assert_eq!(creds.expires_at, Some(T0 + 900));
    assert_eq!(creds.source, CredentialSource::AssumedRole { role_arn: ARN.into(), base: Box::new(CredentialSource::Environment) });
}

#[test]
fn role_without_an_arn_anywhere_says_where_to_put_one() {
    let c = clock();
    let e = build(&settings(CredentialsMode::Role, None), &sources(&env_keys, None), &c).err().unwrap();
    let t = e.to_string();
    assert!(matches!(e, CredentialsError::NoRoleArn { .. }), "{t}");
    assert!(t.contains("role_arn") && t.contains("environment") && !t.contains("SeKrEt"), "{t}");
}

#[test]
fn an_sdk_profiles_role_arn_is_used_by_role_and_ignored_by_auto() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".tencentcloud");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials"),
        format!("[default]\nsecret_id = {ID}\nsecret_key = {KEY}\nrole_arn = qcs::cam::uin/100000000001:roleName/from-sdk\nrole_session_name = sdk-session\n"),
    )
    .unwrap();
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    std::fs::set_permissions(dir.join("credentials"), private).unwrap();
    let c = clock();
    let fake = sts(&c, ID, KEY);
    let src = sources(&no_env, Some(home.path()));
    // The SDK's default chain ignores role_arn: so does "auto".
    let auto = build(&settings(CredentialsMode::Auto, Some(&fake)), &src, &c).unwrap();
    assert_eq!(current(&auto.provider).unwrap().secret_id, ID);
    assert!(fake.issued().is_empty());
    let role = build(&settings(CredentialsMode::Role, Some(&fake)), &src, &c).unwrap();
    current(&role.provider).unwrap();
    assert_eq!(fake.issued()[0].role, "qcs::cam::uin/100000000001:roleName/from-sdk");
    assert_eq!(fake.issued()[0].session_name, "sdk-session", "the profile's session name");
}

#[test]
fn tccli_cvm_role_profile_uses_the_metadata_service_in_auto_and_is_refused_by_role() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".tccli");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("default.credential"), r#"{"type": "cvm-role"}"#).unwrap();
    let c = clock();
    let md =
        FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: 3600, clock: Arc::new(c.clone()) }).unwrap();
    let mut s = settings(CredentialsMode::Auto, None);
    s.metadata_endpoint = Some(parse_endpoint(&md.url(), "/").unwrap());
    let src = sources(&no_env, Some(home.path()));
    let creds = current(&build(&s, &src, &c).unwrap().provider).unwrap();
    assert_eq!(creds.source, CredentialSource::CvmRole { role: "web-purger".into() });
    assert_eq!(md.issued()[0].secret_id, creds.secret_id);
    s.mode = CredentialsMode::Role;
    let e = build(&s, &src, &c).err().unwrap();
    assert!(matches!(e, CredentialsError::NoKeysForRole { .. }) && e.to_string().contains("cvm_role"), "{e}");
}

#[test]
fn cvm_role_never_walks_the_chain_and_uses_the_named_role() {
    let c = clock();
    let md =
        FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: 3600, clock: Arc::new(c.clone()) }).unwrap();
    let mut s = settings(CredentialsMode::CvmRole, None);
    s.metadata_endpoint = Some(parse_endpoint(&md.url(), "/").unwrap());
    s.cvm_role_name = Some("web-purger".into());
    // Half-set environment keys would stop "auto"; "cvm_role" does not look at them.
    let half = |k: &str| (k == "TENCENTCLOUD_SECRET_ID").then(|| ID.to_string());
    let creds = current(&build(&s, &sources(&half, None), &c).unwrap().provider).unwrap();
    assert_eq!(creds.expires_at, Some(T0 + 3600));
    assert_eq!(md.requests(), ["/latest/meta-data/cam/security-credentials/web-purger"]);
}

#[test]
fn oidc_names_the_missing_variable() {
    let c = clock();
    let e = build(&settings(CredentialsMode::Oidc, None), &sources(&env_keys, None), &c).err().unwrap();
    assert!(matches!(e, CredentialsError::OidcEnvironment { var: "TKE_REGION" }), "{e}");
}
