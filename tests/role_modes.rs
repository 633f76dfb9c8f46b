//! `[provider] credentials = "cvm_role" | "role" | "oidc"` through the binary, end to end against
//! the fakes of the metadata service, STS and the CDN API, all on 127.0.0.1: the purge goes out
//! signed with the temporary credentials, `status` says where they came from and how long they
//! have left, and at `-vv` — where every request is logged — no secret key, token or OIDC token
//! appears on stdout, stderr or in any file cdnsync wrote.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cdnsync::clock::SystemClock;
use cdnsync::fake::metadata::{FakeMetadata, MetadataConfig};
use cdnsync::fake::sts::{FakeSts, StsConfig};
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, JobKind};

use crate::util::{Out, TempSite};

const BASE_ID: &str = "AKIDbase00000000000000000000000001";
const BASE_KEY: &str = "baseSeKrEt0000000000000000000001";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";
const OIDC_TOKEN: &str = "eyJoidc.ToKeN.one";

/// The fakes of one account: its metadata service, its STS and its CDN, which accepts what the
/// first two issue.
struct Account {
    md: FakeMetadata,
    sts: FakeSts,
    cdn: FakeCdn,
}

fn account() -> Account {
    let clock = Arc::new(SystemClock);
    let md = FakeMetadata::start(MetadataConfig { role: Some("web-purger".into()), lifetime_secs: 3600, clock: clock.clone() }).unwrap();
    let sts = FakeSts::start(StsConfig {
        secret_id: BASE_ID.into(),
        secret_key: BASE_KEY.into(),
        roles: vec![ARN.into()],
        provider_id: "tke-oidc".into(),
        web_identity_token: OIDC_TOKEN.into(),
        clock,
    })
    .unwrap();
    let cdn = FakeCdn::start(FakeConfig { issuers: vec![md.issuer(), sts.issuer()], ..FakeConfig::default() }).unwrap();
    Account { md, sts, cdn }
}

/// A mode: the `[provider]` lines and the environment that select it.
struct Mode {
    name: &'static str,
    provider: String,
    env: Vec<(String, String)>,
    /// How `status` starts describing the credentials.
    described: String,
    _token_dir: Option<tempfile::TempDir>,
}

fn modes(a: &Account) -> Vec<Mode> {
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, format!("{OIDC_TOKEN}\n")).unwrap();
    let s = |k: &str, v: &str| (k.to_string(), v.to_string());
    vec![
        Mode {
            name: "cvm_role",
            provider: format!("credentials = \"cvm_role\"\nmetadata_endpoint = \"{}\"", a.md.url()),
            env: vec![],
            described: "CVM role web-purger (SecretId AKID…".into(),
            _token_dir: None,
        },
        Mode {
            name: "role",
            provider: format!(
                "credentials = \"role\"\nrole_arn = \"{ARN}\"\nrole_duration_secs = 3600\nsts_endpoint = \"{}\"",
                a.sts.url()
            ),
            env: vec![s("TENCENTCLOUD_SECRET_ID", BASE_ID), s("TENCENTCLOUD_SECRET_KEY", BASE_KEY)],
            described: format!("role {ARN} (assumed with environment (TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY)) (SecretId AKID…"),
            _token_dir: None,
        },
        Mode {
            name: "oidc",
            provider: format!("credentials = \"oidc\"\nsts_endpoint = \"{}\"", a.sts.url()),
            env: vec![
                s("TKE_REGION", "ap-guangzhou"),
                s("TKE_PROVIDER_ID", "tke-oidc"),
                s("TKE_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
                s("TKE_ROLE_ARN", ARN),
            ],
            described: format!("TKE OIDC role {ARN} (SecretId AKID…"),
            _token_dir: Some(token_dir),
        },
    ]
}

fn run(site: &TempSite, mode: &Mode, args: &[&str]) -> Out {
    let env: Vec<(&str, &str)> = mode.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    site.run_env(args, &env)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every secret of the account, the base key and the OIDC token included.
fn secrets(a: &Account) -> Vec<String> {
    let mut s = vec![BASE_KEY.to_string(), OIDC_TOKEN.to_string(), crate::util::SECRET_KEY.to_string()];
    for i in a.md.issued().into_iter().chain(a.sts.issued()) {
        s.push(i.secret_key);
        s.push(i.token);
    }
    s
}

#[track_caller]
fn assert_nothing_secret(a: &Account, outs: &[Out], site: &TempSite) {
    let secrets = secrets(a);
    assert!(secrets.len() > 3, "no temporary credentials were issued");
    for o in outs {
        for s in &secrets {
            assert!(!o.stdout.contains(s.as_str()) && !o.stderr.contains(s.as_str()), "a secret is shown:\n{}\n{}", o.stdout, o.stderr);
        }
    }
    for f in files(&site.dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret is written to {}", f.display());
        }
    }
}

#[test]
fn each_role_mode_purges_end_to_end_and_says_so_never_a_secret() {
    let a = account();
    for mode in modes(&a) {
        let site = TempSite::new(&a.cdn, &mode.provider, "");
        site.write("a.html", "v1");
        run(&site, &mode, &["sync"]).expect(0);
        site.write("a.html", "v2");
        let sync = run(&site, &mode, &["-vv", "--json", "sync"]);
        sync.expect(0);
        let url = "https://www.example.com/a.html".to_string();
        for area in Area::ALL {
            assert!(a.cdn.urls(JobKind::PurgeUrls, area).contains(&url), "{}: {area}", mode.name);
        }
        assert!(sync.stderr.contains("sending Request") && sync.stderr.contains("X-TC-Token"), "{}: -vv logs requests", mode.name);
        let purge = run(&site, &mode, &["-vv", "purge", "/a.html"]);
        purge.expect(0);
        let status = run(&site, &mode, &["-vv", "status"]);
        status.expect(0);
        assert!(status.stdout.contains(&format!("credentials: {}", mode.described)), "{}:\n{}", mode.name, status.stdout);
        assert!(status.stdout.contains("), expires in "), "{}:\n{}", mode.name, status.stdout);
        let json = run(&site, &mode, &["--json", "status"]);
        assert!(json.json()["credentials"].as_str().unwrap().starts_with(&mode.described), "{}", json.stdout);
        assert_nothing_secret(&a, &[sync, purge, status, json], &site);
    }
    // The metadata service gave the CVM role's credentials, STS those of "role" and "oidc".
    assert!(!a.md.issued().is_empty(), "metadata service not asked");
    let actions: Vec<&str> = a.sts.issued().iter().map(|i| i.action).collect();
    assert!(actions.contains(&"AssumeRole") && actions.contains(&"AssumeRoleWithWebIdentity"), "{actions:?}");
}

#[test]
fn a_role_that_cannot_be_had_stops_before_anything_is_done() {
    let a = account();
    a.md.set_role(None);
    let site = TempSite::new(&a.cdn, &format!("credentials = \"cvm_role\"\nmetadata_endpoint = \"{}\"", a.md.url()), "");
    site.write("a.html", "v1");
    let out = site.run_env(&["sync"], &[]);
    out.expect(2);
    assert!(out.stderr.contains("no CAM role is bound to this instance"), "{}", out.stderr);
    assert!(!site.state().join("manifest").exists(), "nothing was done");
    let status = site.run_env(&["status"], &[]);
    status.expect(0);
    assert!(status.stdout.contains("credentials: none usable: CVM role: metadata service"), "{}", status.stdout);
    // "auto" with nothing anywhere: every place looked at, in order.
    let site = TempSite::new(&a.cdn, "", "");
    let status = site.run_env(&["status"], &[]);
    status.expect(0);
    let s = &status.stdout;
    assert!(s.contains("credentials: none usable: no credentials found; looked at, in order:\n  1. environment: "), "{s}");
    assert!(s.contains("  2. credentials_file: not set in the config\n  3. tccli profile default ("), "{s}");
    assert!(s.contains("  4. SDK profile ") && s.contains("home/.tencentcloud/credentials: not found"), "{s}");
    // "role" with keys but no role anywhere: says where to name one.
    let site = TempSite::new(&a.cdn, &format!("credentials = \"role\"\nsts_endpoint = \"{}\"", a.sts.url()), "");
    let out = site.run_env(&["sync"], &[("TENCENTCLOUD_SECRET_ID", BASE_ID), ("TENCENTCLOUD_SECRET_KEY", BASE_KEY)]);
    out.expect(2);
    assert!(out.stderr.contains("set role_arn") && !out.stderr.contains(BASE_KEY), "{}", out.stderr);
    assert!(a.sts.calls().is_empty());
}

/// Long-term keys with a session token, v2 over GET (the token travels in the URL): at -vv the
/// requests are logged, the token and the key are not.
#[test]
fn a_session_token_in_a_v2_url_is_never_shown() {
    const TOKEN: &str = "sessionToKeN0000000000000000000001";
    let cdn = crate::util::fake_with(|c| c.token = Some(TOKEN.into()));
    let site = TempSite::new(&cdn, "api = \"v2\"\nhttp_method = \"GET\"", "");
    site.write("a.html", "v1");
    let env = [
        ("TENCENTCLOUD_SECRET_ID", crate::util::SECRET_ID),
        ("TENCENTCLOUD_SECRET_KEY", crate::util::SECRET_KEY),
        ("TENCENTCLOUD_TOKEN", TOKEN),
    ];
    site.run_env(&["sync"], &env).expect(0);
    site.write("a.html", "v2");
    let outs = [site.run_env(&["-vv", "sync"], &env), site.run_env(&["-vv", "--json", "purge", "/a.html"], &env)];
    for o in &outs {
        o.expect(0);
        assert!(o.stderr.contains("sending Request") && o.stderr.contains("Token=<redacted>"), "{}", o.stderr);
        assert!(!o.stdout.contains(TOKEN) && !o.stderr.contains(TOKEN), "{}\n{}", o.stdout, o.stderr);
        assert!(!o.stdout.contains(crate::util::SECRET_KEY) && !o.stderr.contains(crate::util::SECRET_KEY));
    }
    for f in files(&site.dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(TOKEN) && !text.contains(crate::util::SECRET_KEY), "{}", f.display());
    }
    assert_eq!(cdn.urls(JobKind::PurgeUrls, Area::Mainland).len(), 1);
}
