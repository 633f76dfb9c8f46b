//! Each config mistake exits 2 naming the file, the line and the key; nothing is done.

use crate::util::*;

#[test]
fn config_mistakes_exit_2_with_file_line_and_key() {
    let fake = fake();
    let cases: &[(&str, &str)] = &[
        ("publish_dir = \"public\"\ncolour = \"red\"\n[[domain]]\nhost = \"www.example.com\"\n", "cdnsync.toml:2: colour"),
        ("publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"asia\"]\n", "cdnsync.toml:4: domain[0].areas[0]"),
        ("publish_dir = \"public\"\n[provider]\napi = \"v9\"\n[[domain]]\nhost = \"www.example.com\"\n", "cdnsync.toml:3: provider.api"),
        ("publish_dir = \"nope\"\n[[domain]]\nhost = \"www.example.com\"\n", "cdnsync.toml:1: publish_dir"),
        (
            "publish_dir = \"public\"\n[limits]\nprefetch_batch = 501\n[[domain]]\nhost = \"www.example.com\"\n",
            "cdnsync.toml:3: limits.prefetch_batch",
        ),
        (
            "publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com\"\nprefetch = [\"{a\"]\n",
            "cdnsync.toml:4: domain[0].prefetch[0]",
        ),
        (
            "publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com\"\npurge_added = \"yes\"\n",
            "cdnsync.toml:4: domain[0].purge_added",
        ),
        ("publish_dir = \"public\"\n[[domain]]\nhost = \"a..b\"\n", "cdnsync.toml:3: domain[0].host"),
        ("publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com.\"\n", "remove the trailing dot"),
        ("publish_dir = \"public\"\n[[domain]]\nhost = \"例子.测试\"\n", "host = \"xn--fsqu00a.xn--0zwm56d\""),
        (
            "publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com\"\nbase_path = \"/a/../../b/\"\n",
            "cdnsync.toml:4: domain[0].base_path",
        ),
        (
            "publish_dir = \"public\"\n[provider]\nendpoint = \"http://cdn.tencentcloudapi.com\"\n[[domain]]\nhost = \"www.example.com\"\n",
            "cdnsync.toml:3: provider.endpoint: refusing plain http://",
        ),
    ];
    for (text, want) in cases {
        let site = TempSite::new(&fake, "", "");
        std::fs::write(site.dir.join("cdnsync.toml"), text).unwrap();
        for cmd in [&["sync"][..], &["plan"][..]] {
            let out = site.run(cmd);
            assert_eq!(out.code, 2, "{text}\n{}", out.stderr);
            assert!(out.stderr.contains(want), "want {want:?} in:\n{}", out.stderr);
            assert!(!site.state().exists(), "nothing may be written on a config error");
        }
    }
    assert!(fake.requests().is_empty());
}

/// An unknown key is one error among the others, not the end of the parse; the stderr lists
/// them in the order of the file, and `--json` carries the same text.
#[test]
fn an_unknown_key_and_bad_values_are_all_reported() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let text = "publish_dir = \"public\"\n[provider]\nendpiont = \"http://127.0.0.1:1\"\ntimeout_secs = \"30\"\n[[domain]]\nhost = \"www.example.com\"\nareas = [\"asia\"]\n";
    std::fs::write(site.dir.join("cdnsync.toml"), text).unwrap();
    let out = site.run(&["plan"]);
    out.expect(2);
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains("config error")).collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines[0].contains("cdnsync.toml:3: provider.endpiont: unknown key; did you mean \"endpoint\"?"), "{}", out.stderr);
    assert!(
        lines[1].contains("cdnsync.toml:4: provider.timeout_secs: invalid type: string \"30\", expected a whole number"),
        "{}",
        out.stderr
    );
    assert!(
        lines[2].contains("cdnsync.toml:7: domain[0].areas[0]: expected \"mainland\" or \"overseas\", found \"asia\""),
        "{}",
        out.stderr
    );
    let out = site.run(&["--json", "plan"]);
    out.expect(2);
    let msg = out.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("provider.endpiont") && msg.contains("provider.timeout_secs") && msg.contains("domain[0].areas[0]"), "{msg}");
    assert!(fake.requests().is_empty());
}

/// `http://` to a host that is not this machine needs `allow_plain_http = true`; to loopback it
/// is fine (the fake API of every other test is on 127.0.0.1).
#[test]
fn plain_http_off_this_machine_needs_allow_plain_http() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.edit_config(&fake.url(), "http://192.0.2.10:8080");
    let out = site.run(&["plan"]);
    out.expect(2);
    for words in ["provider.endpoint", "192.0.2.10:8080", "SecretId", "in clear", "allow_plain_http = true"] {
        assert!(out.stderr.contains(words), "{words:?} in {}", out.stderr);
    }
    site.edit_config("timeout_secs = 5", "timeout_secs = 5\nallow_plain_http = true");
    site.run(&["plan"]).expect(0);
}

/// A config file far too big, or a glob list far too long, is refused at once with a clear error.
#[test]
fn oversized_configs_fail_fast_with_a_clear_error() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let cfg = site.dir.join("cdnsync.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n# {}\n", "x".repeat(4 << 20))).unwrap();
    let out = site.run(&["plan"]);
    out.expect(2);
    assert!(out.stderr.contains("cdnsync.toml: the config is") && out.stderr.contains("reads at most 1048576 (1 MiB)"), "{}", out.stderr);
    let globs = vec!["\"*\""; 200_000].join(",");
    std::fs::write(&cfg, text.replacen("publish_dir = \"public\"", &format!("publish_dir = \"public\"\nexclude = [{globs}]"), 1)).unwrap();
    let out = site.run(&["plan"]);
    out.expect(2);
    assert!(out.stderr.contains("cdnsync.toml:2: exclude: too many globs"), "{}", out.stderr);
    assert!(!site.state().exists());
}

#[test]
fn missing_config_file_is_exit_2() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    let out = site.run(&["-c", "other.toml", "plan"]);
    out.expect(2);
    assert!(out.stderr.contains("other.toml") && out.stderr.contains("cdnsync init"), "{}", out.stderr);
}

#[test]
fn init_writes_a_valid_config_and_never_overwrites() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    std::fs::write(site.dir.join("hugo.toml"), "baseURL = 'https://x'").unwrap();
    let out = site.run(&["-c", "new.toml", "init"]);
    out.expect(0);
    let text = std::fs::read_to_string(site.dir.join("new.toml")).unwrap();
    assert!(text.contains("publish_dir = \"public\"") && text.contains("Hugo"), "{text}");
    site.run(&["-c", "new.toml", "plan"]).expect(0);
    let out = site.run(&["-c", "new.toml", "init", "dist"]);
    out.expect(2);
    assert_eq!(std::fs::read_to_string(site.dir.join("new.toml")).unwrap(), text);
}
