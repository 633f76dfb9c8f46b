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
        ("publish_dir = \"public\"\n[[domain]]\nhost = \"www.example.com\"\npurge_added = \"yes\"\n", "cdnsync.toml:4: purge_added"),
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
