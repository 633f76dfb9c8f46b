//! The real tools: `tccli configure set` writes the files cdnsync then reads, and the official
//! Python SDK's `ProfileCredential` reads every SDK fixture so its verdict can be compared with
//! cdnsync's. Both are installed from PyPI into a venv under the target folder; when that cannot
//! be done (no python3, no registry) these tests say why on stderr and check nothing else.
//! Nothing here talks to Tencent: `configure set` and `ProfileCredential` only touch files.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cdnsync::credentials::{CredentialsError, Found, Resolution, Warning};

use super::{data, keys, Expect, Home, SDK_CASES};

fn skip(test: &str, why: &str) {
    // Straight to stderr: the test harness captures print macros.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// Run `cmd`, giving up after `secs` seconds.
fn run_for(mut cmd: Command, secs: u64) -> Result<std::process::Output, String> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
    for _ in 0..secs * 10 {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            return child.wait_with_output().map_err(|e| e.to_string());
        }
        crate::util::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("still running after {secs} s"))
}

/// The venv with tccli and the SDK, installed once per target folder.
fn venv() -> Result<&'static Path, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tccli-venv");
        let ok = dir.join("installed");
        if ok.exists() {
            return Ok(dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let mut venv = Command::new("python3");
        venv.args(["-m", "venv"]).arg(&dir);
        let out = run_for(venv, 120).map_err(|e| format!("python3 -m venv: {e}"))?;
        if !out.status.success() {
            return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        let mut pip = Command::new(dir.join("bin/pip"));
        pip.args(["install", "--disable-pip-version-check", "--quiet", "tccli", "tencentcloud-sdk-python-common"]);
        let out = run_for(pip, 600).map_err(|e| format!("pip install tccli: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("pip install tccli failed: {}", err.lines().last().unwrap_or("")));
        }
        std::fs::write(&ok, "").map_err(|e| e.to_string())?;
        Ok(dir)
    })
    .as_ref()
    .map(PathBuf::as_path)
    .map_err(Clone::clone)
}

/// `tccli <args>` with `home` as HOME, the usual 022 umask and nothing else from our environment.
fn tccli(venv: &Path, home: &Path, args: &[&str]) {
    let mut c = Command::new("sh");
    c.arg("-c").arg("umask 022 && exec \"$0\" \"$@\"").arg(venv.join("bin/tccli")).args(args);
    c.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", home);
    let out = run_for(c, 120).unwrap();
    assert!(out.status.success(), "tccli {args:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3SeKrEt";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";

#[test]
fn files_written_by_the_real_tccli() {
    let venv = match venv() {
        Ok(v) => v,
        Err(why) => return skip("files_written_by_the_real_tccli", &why),
    };
    let home = Home::new();
    tccli(venv, home.path(), &["configure", "set", "secretId", ID, "secretKey", KEY]);
    let p = home.path().join(".tccli/default.credential");
    assert_eq!(mode(&p), 0o644, "tccli writes its credentials 644");
    let r = home.find(&[]);
    super::assert_no_secret(&r);
    assert_eq!(keys(&r), (ID.to_string(), KEY.to_string()));
    assert!(matches!(&r.unwrap().warnings[..], [Warning::ReadableByOthers { .. }]));

    // The user follows the warning; the next `configure set` makes the file 644 again, and
    // cdnsync still reads it (this is why it warns rather than refuses).
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    tccli(venv, home.path(), &["configure", "set", "secretKey", "Gu5t9xGARNpq86cd98joQYCN3SeKrEt2"]);
    assert_eq!(mode(&p), 0o644, "tccli rewrote it 644");
    assert_eq!(keys(&home.find(&[])).1, "Gu5t9xGARNpq86cd98joQYCN3SeKrEt2");

    // A profile with a role, and one that asks for the CVM role.
    let work = ["configure", "set", "secretId", ID, "secretKey", KEY, "role-arn", ARN, "role-session-name", "deploy", "--profile", "work"];
    tccli(venv, home.path(), &work);
    match home.find(&[("TCCLI_PROFILE", "work")]) {
        Ok(Resolution { found: Found::AssumeRole(req), .. }) => {
            assert_eq!((req.role_arn.as_str(), req.role_session_name.as_deref()), (ARN, Some("deploy")));
        }
        other => panic!("{}", super::shown(&other)),
    }
    tccli(venv, home.path(), &["configure", "set", "use-cvm-role", "true", "--profile", "vm"]);
    assert!(matches!(home.find(&[("TCCLI_PROFILE", "vm")]), Ok(Resolution { found: Found::CvmRole { .. }, .. })));

    let e = home.find(&[("TCCLI_PROFILE", "nosuch")]).unwrap_err();
    assert!(e.to_string().contains("profiles there: default, vm, work"), "{e}");
}

const SDK_SCRIPT: &str = r#"
import json, os, shutil, sys, tempfile
from tencentcloud.common.credential import ProfileCredential
out = []
for fixture in sys.argv[1:]:
    home = tempfile.mkdtemp()
    os.makedirs(os.path.join(home, ".tencentcloud"))
    shutil.copy(fixture, os.path.join(home, ".tencentcloud", "credentials"))
    os.environ["HOME"] = home
    try:
        c = ProfileCredential().get_credential()
        out.append({"result": "none"} if c is None else {"result": "keys", "id": c.secret_id, "key": c.secret_key})
    except Exception as e:
        out.append({"result": "error", "type": type(e).__name__})
print(json.dumps(out))
"#;

#[test]
fn sdk_profiles_read_as_the_real_sdk_reads_them() {
    let venv = match venv() {
        Ok(v) => v,
        Err(why) => return skip("sdk_profiles_read_as_the_real_sdk_reads_them", &why),
    };
    let files: Vec<PathBuf> = SDK_CASES.iter().map(|(f, _)| data(&format!("sdk/{f}"))).collect();
    let mut c = Command::new(venv.join("bin/python"));
    c.arg("-c").arg(SDK_SCRIPT).args(&files).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    let out = run_for(c, 120).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdicts: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    for ((file, expect), sdk) in SDK_CASES.iter().zip(&verdicts) {
        let result = sdk["result"].as_str().unwrap();
        match expect {
            Expect::Keys(id, key) => {
                assert_eq!((result, sdk["id"].as_str(), sdk["key"].as_str()), ("keys", Some(*id), Some(*key)), "{file}");
            }
            // Without a [default] section the SDK's ProfileCredential dies of an AttributeError
            // (it reads attributes it never set); cdnsync goes on down the chain.
            Expect::Nothing => assert!(result == "none" || sdk["type"] == "AttributeError", "{file}: {sdk}"),
            Expect::Syntax => assert_eq!(result, "error", "{file}: {sdk}"),
            // The SDK takes these, comment or second line included, and every signature then fails;
            // cdnsync refuses them up front.
            Expect::Mangled => {
                let key = sdk["key"].as_str().unwrap_or("");
                assert!(result == "keys" && key.contains(|c: char| c.is_whitespace()), "{file}: {sdk}");
            }
        }
    }
    assert_eq!(verdicts.len(), SDK_CASES.len());
}

#[test]
fn a_refused_file_is_refused_by_name() {
    // Independent of the tools: the error of a broken tccli file names it and its line.
    let home = Home::new();
    let p = home.put(".tccli/default.credential", "tccli/broken.credential", 0o600);
    let e = home.find(&[]).unwrap_err();
    assert!(matches!(e, CredentialsError::TccliSyntax { line: 4, .. }), "{e}");
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
}
