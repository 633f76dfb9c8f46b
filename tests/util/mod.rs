//! Test harness: a temporary site with a config pointing at a local fake API, and a runner for
//! the built binary with a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cdnsync::fake::{FakeCdn, FakeConfig};

pub const SECRET_ID: &str = "AKIDFAKE0000000000000000000000000000";
pub const SECRET_KEY: &str = "fakeSecretKey0000000000000000000";

/// A site on disk: `dir/cdnsync.toml` and `dir/public/`.
pub struct TempSite {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl TempSite {
    /// A site whose config has `[provider] endpoint` set to the fake, plus `extra` TOML.
    pub fn new(fake: &FakeCdn, provider_extra: &str, domain_extra: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("public")).unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let cfg = format!(
            "publish_dir = \"public\"\n\n[provider]\nendpoint = \"{}\"\ntimeout_secs = 5\n{provider_extra}\n\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"mainland\", \"overseas\"]\nprefetch = [\"**/index.html\"]\n{domain_extra}\n\n[limits]\nretry_deadline_secs = 20\n",
            fake.url()
        );
        std::fs::write(dir.join("cdnsync.toml"), cfg).unwrap();
        TempSite { tmp, dir }
    }

    pub fn public(&self) -> PathBuf {
        self.dir.join("public")
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.public().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.public().join(rel)).unwrap()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.public().join(rel)).unwrap();
    }

    /// Write the same bytes again (a rebuild that produced identical output): new mtime.
    pub fn rewrite_identical(&self, rel: &str) {
        let c = self.read(rel);
        let p = self.public().join(rel);
        std::fs::write(&p, c).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000)).unwrap();
    }

    /// Set every file's mtime well in the past, as if the site had been built a while ago (files
    /// modified just before a scan are always rehashed: the racy-timestamp rule).
    pub fn backdate_all(&self) {
        fn go(dir: &Path) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    go(&p);
                } else {
                    let f = std::fs::File::options().write(true).open(&p).unwrap();
                    // A fixed instant well in the past is as good as "an hour ago" and needs no clock.
                    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000)).unwrap();
                }
            }
        }
        go(&self.public());
    }

    pub fn state(&self) -> PathBuf {
        self.dir.join(".cdnsync")
    }

    /// Run the binary in the site's folder with a clean environment and the fake's credentials.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)])
    }

    /// `program` in the site's folder with a clean environment: only `PATH` and a `HOME` of its
    /// own (no credentials; add them with [`TempSite::with_credentials`] or `.env`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", self.dir.join("home"));
        c
    }

    /// The fake's credentials, as the environment gives them.
    pub fn with_credentials(c: &mut Command) -> &mut Command {
        c.env("TENCENTCLOUD_SECRET_ID", SECRET_ID).env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let out = self.command(env!("CARGO_BIN_EXE_cdnsync")).args(args).envs(env.iter().copied()).output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What a run printed and returned.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// Wait in real time: these tests drive real processes (the library's own code waits only on its
/// `Clock`, which clippy.toml enforces).
#[allow(clippy::disallowed_methods)]
pub fn sleep(d: std::time::Duration) {
    std::thread::sleep(d)
}

pub fn fake() -> FakeCdn {
    FakeCdn::start(FakeConfig::default()).unwrap()
}

pub fn fake_with(f: impl FnOnce(&mut FakeConfig)) -> FakeCdn {
    let mut c = FakeConfig::default();
    f(&mut c);
    FakeCdn::start(c).unwrap()
}

/// An account whose PurgeUrlsCache batch limit is `batch` URLs in both areas.
pub fn url_batch(c: &mut FakeConfig, batch: u64) {
    for area in cdnsync::model::Area::ALL {
        let mut e = c.quota.get(cdnsync::model::JobKind::PurgeUrls, area).unwrap();
        e.batch = batch;
        c.quota.set(cdnsync::model::JobKind::PurgeUrls, area, e);
    }
}

/// Requests that submit work (not Describe*).
pub fn work_requests(fake: &FakeCdn) -> Vec<cdnsync::fake::RequestLog> {
    fake.requests().into_iter().filter(|r| !r.action.starts_with("Describe")).collect()
}

pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> std::collections::BTreeSet<String> {
    items.into_iter().map(Into::into).collect()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A `cdnsync` process still running, with its stderr read line by line in the background.
pub struct Running {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    /// Wait (at most 60 s) for a stderr line containing `needle`.
    #[track_caller]
    pub fn wait_for_line(&mut self, needle: &str) {
        loop {
            match self.lines.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(e) => panic!("no stderr line with {needle:?} ({e}); saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Lines printed so far (without waiting).
    pub fn lines_now(&mut self) -> &[String] {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
        &self.seen
    }

    /// Send SIGTERM (as systemd does on stop).
    pub fn terminate(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
    }

    /// Wait for a normal exit, at most `secs` seconds.
    pub fn finish_within(mut self, secs: u64) -> (i32, String) {
        for _ in 0..secs * 20 {
            if self.child.try_wait().unwrap().is_some() {
                return self.finish();
            }
            sleep(std::time::Duration::from_millis(50));
        }
        let seen = self.lines_now().join("\n");
        panic!("still running after {secs} s; stderr:\n{seen}");
    }

    /// SIGKILL: no destructor, no flush, no cleanup runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Wait for a normal exit; returns the code and the whole stderr.
    pub fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        let lines = std::mem::replace(&mut self.lines, std::sync::mpsc::channel().1);
        while let Ok(l) = lines.recv_timeout(std::time::Duration::from_secs(5)) {
            self.seen.push(l);
        }
        (status.code().unwrap_or(-1), std::mem::take(&mut self.seen).join("\n"))
    }
}

impl TempSite {
    /// Start the binary without waiting for it, with the fake's credentials plus `env`.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        use std::io::BufRead;
        let mut child = Self::with_credentials(&mut self.command(env!("CARGO_BIN_EXE_cdnsync")))
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stderr).lines() {
                let Ok(l) = l else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Append TOML to the config.
    pub fn append_config(&self, extra: &str) {
        let p = self.dir.join("cdnsync.toml");
        let c = std::fs::read_to_string(&p).unwrap();
        std::fs::write(p, format!("{c}\n{extra}\n")).unwrap();
    }

    /// Replace `from` by `to` in the config.
    pub fn edit_config(&self, from: &str, to: &str) {
        let p = self.dir.join("cdnsync.toml");
        let c = std::fs::read_to_string(&p).unwrap();
        assert!(c.contains(from), "config has no {from:?}:\n{c}");
        std::fs::write(p, c.replacen(from, to, 1)).unwrap();
    }
}

/// A test never leaves a process behind, even when it fails.
impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
