//! The credential chain against credential files in every form tccli and the SDK write or read
//! (`tests/data/credentials/`), against the real tools where they can be installed, and through
//! the binary. Each row of issue 13's table about files has a test here.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cdnsync::credentials::{self, CredentialSource, CredentialsError, Found, Resolution, Sources, Warning};

use crate::util::{fake, TempSite};

/// Every secret in the fixtures contains one of these; none may ever be shown.
const MARKERS: [&str; 2] = ["SeKrEt", "ToKeN"];
const NOW: i64 = 1_750_000_000;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/credentials").join(rel)
}

/// A temporary home folder with files copied in at given modes.
struct Home {
    tmp: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Home { tmp: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn put(&self, rel: &str, fixture: &str, mode: u32) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(data(fixture), &p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn find(&self, env: &[(&str, &str)]) -> Result<Resolution, CredentialsError> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let get = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let src = Sources {
            env: &get,
            home: Some(self.path().to_path_buf()),
            system_sdk_file: Some(self.path().join("etc/tencentcloud/credentials")),
            uid: cdnsync::credentials::files::current_uid(),
            now_unix: NOW,
        };
        credentials::find(&src, None)
    }
}

/// Everything the user could see of an outcome: errors, warnings, places looked at, Debug.
fn shown(r: &Result<Resolution, CredentialsError>) -> String {
    match r {
        Ok(r) => format!(
            "{:?}\n{}\n{}",
            r.found,
            r.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            r.looked.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        ),
        Err(e) => format!("{e}\n{e:?}"),
    }
}

#[track_caller]
fn assert_no_secret(r: &Result<Resolution, CredentialsError>) {
    let s = shown(r);
    for m in MARKERS {
        assert!(!s.contains(m), "a secret is shown:\n{s}");
    }
}

fn keys(r: &Result<Resolution, CredentialsError>) -> (String, String) {
    match r {
        Ok(Resolution { found: Found::Keys(c), .. }) => (c.secret_id.clone(), c.secret_key.expose().to_string()),
        other => panic!("expected keys, got {}", shown(other)),
    }
}

// Row 1: `tccli configure set` writes 644 — used, with a warning naming the file and the chmod.
#[test]
fn tccli_file_readable_by_others_is_used_with_a_warning() {
    let home = Home::new();
    let p = home.put(".tccli/default.credential", "tccli/configure-set.credential", 0o644);
    let r = home.find(&[]);
    assert_no_secret(&r);
    assert_eq!(keys(&r), ("AKIDtccliEXAMPLE0000000000000001".into(), "tccliSeKrEtKey0000000000000000001".into()));
    let r = r.unwrap();
    assert!(matches!(&r.warnings[..], [Warning::ReadableByOthers { path, mode: 0o644, .. }] if *path == p), "{:?}", r.warnings);
    let w = r.warnings[0].to_string();
    assert!(w.contains(&format!("chmod 600 {}", p.display())), "{w}");
    let Found::Keys(c) = r.found else { unreachable!() };
    assert_eq!(c.source, CredentialSource::Tccli { profile: "default".into(), path: p });
}

// Row 2: a 644 tccli file plus a good 600 SDK file — the first found wins, no hard error.
#[test]
fn tccli_644_with_an_sdk_file_works() {
    let home = Home::new();
    home.put(".tccli/default.credential", "tccli/configure-set.credential", 0o644);
    home.put(".tencentcloud/credentials", "sdk/equals.ini", 0o600);
    let r = home.find(&[]);
    assert_eq!(keys(&r).0, "AKIDtccliEXAMPLE0000000000000001");
    assert_eq!(r.unwrap().warnings.len(), 1);
    // Without a tccli profile, the SDK file answers, and no warning for a 600 file.
    let home = Home::new();
    home.put(".tencentcloud/credentials", "sdk/equals.ini", 0o600);
    let r = home.find(&[]);
    assert_eq!(keys(&r).0, "AKIDsdkEXAMPLE000000000000000001");
    let r = r.unwrap();
    assert!(r.warnings.is_empty());
    assert_eq!(r.looked.len(), 3, "environment, credentials_file, tccli: {:?}", r.looked);
}

#[test]
fn tool_files_writable_by_others_are_refused() {
    for (rel, fixture) in [(".tccli/default.credential", "tccli/configure-set.credential"), (".tencentcloud/credentials", "sdk/equals.ini")]
    {
        let home = Home::new();
        let p = home.put(rel, fixture, 0o664);
        let r = home.find(&[]);
        assert_no_secret(&r);
        let e = r.unwrap_err();
        assert!(matches!(&e, CredentialsError::WritableByOthers { path, .. } if *path == p), "{e}");
        assert!(e.to_string().contains(&format!("chmod go-w {}", p.display())), "{e}");
    }
}

#[test]
fn tool_files_owned_by_another_user_are_refused() {
    let home = Home::new();
    let p = home.put(".tccli/default.credential", "tccli/configure-set.credential", 0o600);
    let me = cdnsync::credentials::files::current_uid();
    let uid = if me == 0 {
        std::os::unix::fs::chown(&p, Some(4242), None).unwrap();
        0
    } else {
        me + 1 // the file is ours; look at it as someone else
    };
    let src = Sources { env: &|_: &str| None, home: Some(home.path().into()), system_sdk_file: None, uid, now_unix: NOW };
    let r = credentials::find(&src, None);
    assert_no_secret(&r);
    assert!(matches!(r, Err(CredentialsError::ForeignOwner { .. })), "{}", shown(&r));
}

/// The SDK profile fixtures and what the chain makes of each (the SDK column is checked against
/// the real SDK in `sdk_profiles_read_as_the_real_sdk_reads_them`).
#[derive(Clone, Copy, Debug)]
enum Expect {
    Keys(&'static str, &'static str),
    /// No usable keys: the chain goes on.
    Nothing,
    /// configparser refuses the file too.
    Syntax,
    /// The SDK would accept a key that can never sign (a comment or a second line inside it).
    Mangled,
}

const SDK_ID: &str = "AKIDsdkEXAMPLE000000000000000001";
const SDK_KEY: &str = "sdkSeKrEtKey00000000000000000000";

const SDK_CASES: &[(&str, Expect)] = &[
    ("equals.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("colon.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("upper-keys.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("comments-whitespace.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("crlf.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("quoted.ini", Expect::Keys("\"AKIDsdkEXAMPLE000000000000000001\"", "\"sdkSeKrEtKey00000000000000000000\"")),
    ("other-sections.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("role.ini", Expect::Keys(SDK_ID, SDK_KEY)),
    ("capital-section.ini", Expect::Nothing),
    ("defaults-section.ini", Expect::Nothing),
    ("empty-key.ini", Expect::Nothing),
    // secret_key indented deeper than secret_id continues secret_id's value (configparser).
    ("indented-key.ini", Expect::Nothing),
    ("inline-comment.ini", Expect::Mangled),
    ("continuation.ini", Expect::Mangled),
    ("no-section.ini", Expect::Syntax),
    ("duplicate-key.ini", Expect::Syntax),
    ("bare-line.ini", Expect::Syntax),
];

// Row 3: `secret_id: …`, `SECRET_ID = …` and the rest of configparser's forms.
#[test]
fn sdk_profiles_in_every_form() {
    for (file, expect) in SDK_CASES {
        let home = Home::new();
        let p = home.put(".tencentcloud/credentials", &format!("sdk/{file}"), 0o600);
        let r = home.find(&[]);
        assert_no_secret(&r);
        match expect {
            Expect::Keys(id, key) => assert_eq!(keys(&r), (id.to_string(), key.to_string()), "{file}"),
            Expect::Nothing => {
                let e = r.unwrap_err();
                let CredentialsError::NoCredentials { looked } = &e else { panic!("{file}: {e}") };
                assert!(looked.iter().any(|l| l.place.contains(&p.display().to_string())), "{file}: {e}");
            }
            Expect::Syntax => {
                let e = r.unwrap_err();
                assert!(matches!(e, CredentialsError::IniSyntax { .. }), "{file}: {e}");
                assert!(e.to_string().contains(&format!("{}:", p.display())), "{file}: {e}");
            }
            Expect::Mangled => assert!(matches!(r, Err(CredentialsError::BadValue { .. })), "{file}: {}", shown(&r)),
        }
    }
}

#[test]
fn quoted_sdk_values_warn() {
    let home = Home::new();
    home.put(".tencentcloud/credentials", "sdk/quoted.ini", 0o600);
    let w = home.find(&[]).unwrap().warnings;
    assert!(w.iter().all(|w| matches!(w, Warning::LooksQuoted { .. })) && w.len() == 2, "{w:?}");
    assert!(w[1].to_string().contains("secret_key") && w[1].to_string().contains("quoted"), "{}", w[1]);
}

#[test]
fn sdk_role_arn_is_kept_for_role_mode() {
    let home = Home::new();
    home.put(".tencentcloud/credentials", "sdk/role.ini", 0o600);
    let r = home.find(&[]).unwrap();
    assert_eq!(r.sdk_role, Some(("qcs::cam::uin/100000000001:roleName/cdn-purger".into(), None)));
}

// Row 4: /etc/tencentcloud/credentials, the SDK's second place, read only when the first is absent.
#[test]
fn system_sdk_file_is_the_second_place() {
    let home = Home::new();
    let etc = home.put("etc/tencentcloud/credentials", "sdk/colon.ini", 0o644);
    let r = home.find(&[]);
    assert_eq!(keys(&r).0, SDK_ID);
    let r = r.unwrap();
    let Found::Keys(c) = &r.found else { unreachable!() };
    assert_eq!(c.source, CredentialSource::SdkProfile(etc.clone()));
    assert_eq!(r.warnings.len(), 1, "644 is a warning there too");
    // A home file without [default] hides /etc, as in the SDK; the list says so.
    home.put(".tencentcloud/credentials", "sdk/capital-section.ini", 0o600);
    let e = home.find(&[]).unwrap_err().to_string();
    assert!(e.contains("not read") && e.contains(&etc.display().to_string()), "{e}");
}

// Row 5: TCCLI_PROFILE=nosuch names the profile and where it looked.
#[test]
fn missing_tccli_profile_is_named() {
    let home = Home::new();
    home.put(".tccli/default.credential", "tccli/configure-set.credential", 0o600);
    home.put(".tccli/work.credential", "tccli/role.credential", 0o600);
    let e = home.find(&[("TCCLI_PROFILE", "nosuch")]).unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, CredentialsError::ProfileNotFound { .. }), "{s}");
    let want = home.path().join(".tccli/nosuch.credential");
    assert!(s.contains("TCCLI_PROFILE=nosuch") && s.contains(&want.display().to_string()), "{s}");
    assert!(s.contains("profiles there: default, work") && s.contains("--profile nosuch"), "{s}");
}

// Row 6: a tccli profile with a role ARN assumes the role through STS with the profile's keys.
#[test]
fn tccli_role_profile_assumes_the_role_through_sts() {
    use cdnsync::api::http::Transport;
    use cdnsync::api::provider::provider_for;
    use cdnsync::clock::{Clock, ManualClock};
    use cdnsync::fake::sts::{FakeSts, StsConfig};
    use std::sync::Arc;

    let home = Home::new();
    home.put(".tccli/work.credential", "tccli/role.credential", 0o600);
    let r = home.find(&[("TCCLI_PROFILE", "work")]);
    assert_no_secret(&r);
    let Ok(Resolution { found: Found::AssumeRole(req), .. }) = &r else { panic!("{}", shown(&r)) };
    assert_eq!(req.role_arn, "qcs::cam::uin/100000000001:roleName/cdn-purger");
    assert_eq!(req.role_session_name.as_deref(), Some("cdnsync"));
    assert_eq!(req.base.secret_id, "AKIDtccliEXAMPLE0000000000000003");

    // What Tencent's tools do with it: AssumeRole (here against a fake STS on 127.0.0.1).
    let clock = ManualClock::new(NOW * 1000);
    let sts = FakeSts::start(StsConfig {
        secret_id: "AKIDtccliEXAMPLE0000000000000003".into(),
        secret_key: "tccliSeKrEtKey0000000000000000003".into(),
        roles: vec![req.role_arn.clone()],
        provider_id: String::new(),
        web_identity_token: String::new(),
        clock: Arc::new(clock.clone()),
    })
    .unwrap();
    let settings = cdnsync::config::CredentialSettings {
        sts_endpoint: Some(cdnsync::config::parse_endpoint(&sts.url(), "/").unwrap()),
        ..Default::default()
    };
    let get = |k: &str| (k == "TCCLI_PROFILE").then(|| "work".to_string());
    let src = Sources {
        env: &get,
        home: Some(home.path().into()),
        system_sdk_file: None,
        uid: cdnsync::credentials::files::current_uid(),
        now_unix: NOW,
    };
    let transport = Transport::new(std::time::Duration::from_secs(5)).unwrap();
    let p = provider_for(&settings, None, &src, transport, Arc::new(clock.clone())).unwrap().provider;
    let c = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(p.current()).unwrap();
    let issued = sts.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!((issued[0].action, issued[0].role.as_str()), ("AssumeRole", req.role_arn.as_str()));
    assert_eq!(c.secret_id, issued[0].secret_id);
    assert_eq!(c.expires_at, Some(clock.now_unix() + 7200), "STS's default lifetime");
    let d = c.describe(clock.now_unix());
    assert!(d.starts_with("role qcs::cam::uin/100000000001:roleName/cdn-purger (assumed with tccli profile work ("), "{d}");
    assert!(d.ends_with("expires in 2h 0m") && !d.contains("SeKrEt"), "{d}");
}

#[test]
fn tccli_cvm_role_profile_is_recognised() {
    let home = Home::new();
    home.put(".tccli/default.credential", "tccli/cvm-role.credential", 0o644);
    let r = home.find(&[]).unwrap();
    assert!(matches!(r.found, Found::CvmRole { source: CredentialSource::Tccli { .. } }), "{:?}", r.found);
}

// Row 10: an expired tccli OAuth (or SSO) login is refused with the fix.
#[test]
fn expired_tccli_logins_are_refused_with_the_fix() {
    for (fixture, fix) in [("tccli/oauth-expired.credential", "tccli auth login"), ("tccli/sso-expired.credential", "tccli sso login")] {
        let home = Home::new();
        home.put(".tccli/default.credential", fixture, 0o600);
        let r = home.find(&[]);
        assert_no_secret(&r);
        let e = r.unwrap_err();
        assert!(matches!(e, CredentialsError::Expired { .. }), "{e}");
        assert!(e.to_string().contains(fix) && e.to_string().contains("2023-11-14 22:13:20 UTC"), "{e}");
    }
    let home = Home::new();
    home.put(".tccli/default.credential", "tccli/oauth-valid.credential", 0o600);
    let r = home.find(&[]);
    let Ok(Resolution { found: Found::Keys(c), .. }) = &r else { panic!("{}", shown(&r)) };
    assert_eq!((c.expires_at, c.token.as_ref().map(|t| t.expose())), (Some(4_102_444_800), Some("tccliToKeN000000000000000000000004")));
}

#[test]
fn tccli_fixtures_never_show_a_secret() {
    for f in std::fs::read_dir(data("tccli")).unwrap() {
        let f = f.unwrap().file_name().into_string().unwrap();
        let home = Home::new();
        home.put(".tccli/default.credential", &format!("tccli/{f}"), 0o644);
        assert_no_secret(&home.find(&[]));
    }
}

#[test]
fn placeholders_fall_through_and_no_credentials_lists_every_place() {
    let home = Home::new();
    home.put(".tccli/default.credential", "tccli/placeholder.credential", 0o600);
    let e = home.find(&[]).unwrap_err();
    let s = e.to_string();
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle:?} not in:\n{s}"));
    let order = [
        at("1. environment"),
        at("2. credentials_file: not set"),
        at("3. tccli profile default"),
        at("4. SDK profile"),
        at("5. SDK profile"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{s}");
    assert!(s.contains("no secretId and secretKey") && s.contains("etc/tencentcloud/credentials: not found"), "{s}");
}

#[test]
fn own_credentials_file_keeps_0600() {
    let home = Home::new();
    let p = home.put("cdnsync-credentials.toml", "own/credentials.toml", 0o640);
    let src =
        Sources { env: &|_: &str| None, home: None, system_sdk_file: None, uid: cdnsync::credentials::files::current_uid(), now_unix: NOW };
    let e = credentials::find(&src, Some(&p)).unwrap_err();
    assert!(matches!(e, CredentialsError::NotPrivate { .. }) && e.to_string().contains("chmod 600"), "{e}");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = credentials::find(&src, Some(&p));
    assert_eq!(keys(&r).0, "AKIDownEXAMPLE000000000000000001");
    assert_no_secret(&r);
}

// Through the binary: the warning reaches stderr, status names the source, nothing secret shows.
#[test]
fn binary_uses_a_644_tccli_profile_and_names_a_missing_one() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let p = site.dir.join("home/.tccli/default.credential");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::copy(data("tccli/configure-set.credential"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = site.run_env(&["status"], &[]);
    out.expect(0);
    assert!(out.stderr.contains("readable by group or others") && out.stderr.contains("chmod 600"), "{}", out.stderr);
    assert!(out.stdout.contains("tccli profile default") && out.stdout.contains("AKID…0001"), "{}", out.stdout);
    let out = site.run_env(&["sync", "-v"], &[("TCCLI_PROFILE", "nosuch")]);
    out.expect(2);
    assert!(out.stderr.contains("TCCLI_PROFILE=nosuch") && out.stderr.contains("nosuch.credential"), "{}", out.stderr);
    for o in [&out.stderr, &out.stdout] {
        assert!(MARKERS.iter().all(|m| !o.contains(m)), "{o}");
    }
}

#[path = "credentials_tools.rs"]
mod tools;
