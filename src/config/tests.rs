//! The config as a user meets it: whole files in, every error (line, key, message) out.

use super::*;

const GOOD: &str = r#"
publish_dir = "public"

[[domain]]
host = "www.example.com"
areas = ["mainland", "overseas"]
"#;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    from_str(text, Path::new("cdnsync.toml"), Path::new("/site"))
}

#[test]
fn good_config_defaults() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.publish_dir, Path::new("/site/public"));
    assert_eq!(c.state_dir, Path::new("/site/.cdnsync"));
    assert_eq!(c.provider.api, Api::V3);
    assert_eq!(c.provider.endpoint.url(), "https://cdn.tencentcloudapi.com/");
    let d = &c.domains[0];
    assert_eq!((d.scheme.as_str(), d.base_path.as_str()), ("https", "/"));
    assert!(d.alias_slash && !d.alias_bare && !d.purge_added);
    assert_eq!(d.index_files, vec!["index.html"]);
    assert!(c.exclude.is_match(".git/config"));
    assert!(c.exclude.is_match("docs/.index.html.swp"));
    assert!(c.exclude.is_match("docs/.index.html.Ab12Cd"));
    assert!(!c.exclude.is_match("docs/index.html"));
    assert!(c.exclude_dirs.is_match(".git"));
    assert_eq!((c.if_no_state.rule, c.if_no_state.from_key), (NoStateRule::Baseline, false));
    assert_eq!(c.limits.max_root_purges_per_day, DEFAULT_MAX_ROOT_PURGES_PER_DAY);
    assert_eq!((c.symlinks, c.limits.max_files), (Symlinks::Follow, 2_000_000));
}

#[test]
fn if_no_state_and_max_root_purges() {
    let c = parse("publish_dir = \"p\"\nif_no_state = \"fail\"\n[[domain]]\nhost = \"a.com\"\n[limits]\nmax_root_purges_per_day = 0\n")
        .unwrap();
    assert_eq!(c.if_no_state.rule, NoStateRule::Fail);
    assert_eq!(c.if_no_state.why, "if_no_state = \"fail\" in cdnsync.toml:2");
    assert_eq!(c.limits.max_root_purges_per_day, 0);
    let e = parse("publish_dir = \"p\"\nif_no_state = \"purge\"\n[[domain]]\nhost = \"a.com\"\n[limits]\nmax_root_purges_per_day = 101\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cdnsync.toml:2: if_no_state: expected one of \"baseline\", \"purge_all\", \"fail\", found \"purge\""), "{e}");
    assert!(e.contains("cdnsync.toml:6: limits.max_root_purges_per_day: expected a whole number from 0 to 100"), "{e}");
}

/// One row per config mistake: (text, line, key, words the message must contain).
#[test]
fn config_errors_name_line_and_key() {
    let cases: &[(&str, Option<usize>, &str, &str)] = &[
        ("publish_dir = \"p\"\nfoo = 1\n[[domain]]\nhost = \"a.com\"\n", Some(2), "foo", "unknown key"),
        ("[[domain]]\nhost = \"a.com\"\n", None, "publish_dir", "missing required key"),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nareas = [\"mainland\", \"europe\"]\n",
            Some(4),
            "domain[0].areas[1]",
            "\"europe\"",
        ),
        ("publish_dir = \"p\"\n[provider]\napi = \"v4\"\n[[domain]]\nhost = \"a.com\"\n", Some(3), "provider.api", "\"v3\", \"v2\""),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"https://a.com/\"\n", Some(3), "domain[0].host", "bare domain"),
        (
            "publish_dir = \"p\"\nsymlinks = \"always\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(2),
            "symlinks",
            "\"follow\", \"inside\", \"skip\"",
        ),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\n[limits]\nmax_files = 0\n",
            Some(5),
            "limits.max_files",
            "from 1 to 100000000",
        ),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\ninclude = [\"a/[b\"]\n", Some(4), "domain[0].include[0]", "invalid glob"),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nscheme = \"ftp\"\n", Some(4), "domain[0].scheme", "\"ftp\""),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nbase_path = \"docs\"\n",
            Some(4),
            "domain[0].base_path",
            "starting with \"/\"",
        ),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nindex_aliases = [\"dir\"]\n",
            Some(4),
            "domain[0].index_aliases[0]",
            "\"slash\"",
        ),
        (
            "publish_dir = \"p\"\n[limits]\npurge_urls_batch = 5000\n[[domain]]\nhost = \"a.com\"\n",
            Some(3),
            "limits.purge_urls_batch",
            "never raise",
        ),
        ("publish_dir = \"p\"\n[limits]\nconcurrency = 0\n[[domain]]\nhost = \"a.com\"\n", Some(3), "limits.concurrency", "from 1 to 20"),
        (
            "publish_dir = \"p\"\n[watch]\nsettle_ms = 5000\nmax_wait_ms = 100\n[[domain]]\nhost = \"a.com\"\n",
            Some(4),
            "watch.max_wait_ms",
            "at least settle_ms",
        ),
        (
            "publish_dir = \"p\"\n[provider]\nendpoint = \"127.0.0.1:8080\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(3),
            "provider.endpoint",
            "http://",
        ),
        (
            "publish_dir = \"p\"\n[provider]\nsignature_method = \"MD5\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(3),
            "provider.signature_method",
            "HmacSHA256",
        ),
        ("publish_dir = \"p\"\n", None, "domain", "no [[domain]]"),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(5),
            "domain[1].host",
            "already configured",
        ),
        ("publish_dir = 3\n[[domain]]\nhost = \"a.com\"\n", Some(1), "publish_dir", "invalid type"),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nareas = \"mainland\"\n",
            Some(4),
            "domain[0].areas",
            "invalid type: string \"mainland\", expected a list",
        ),
        ("publish_dir = \"p\n", Some(1), "", "invalid TOML at column 17: invalid basic string"),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"a..b\"\n", Some(3), "domain[0].host", "empty label"),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"www.example.com.\"\n", Some(3), "domain[0].host", "trailing dot"),
        ("publish_dir = \"p\"\n[[domain]]\nhost = \"bücher.de\"\n", Some(3), "domain[0].host", "host = \"xn--bcher-kva.de\""),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nbase_path = \"/a/../../b/\"\n",
            Some(4),
            "domain[0].base_path",
            "\"..\" segments",
        ),
        (
            "publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\npurge_added = \"yes\"\n",
            Some(4),
            "domain[0].purge_added",
            "expected a boolean",
        ),
        (
            "publish_dir = \"p\"\n[provider]\nendpoint = \"http://cdn.tencentcloudapi.com\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(3),
            "provider.endpoint",
            "allow_plain_http = true",
        ),
        (
            "publish_dir = \"p\"\n[provider]\nallow_plain_http = 1\n[[domain]]\nhost = \"a.com\"\n",
            Some(3),
            "provider.allow_plain_http",
            "expected a boolean",
        ),
        ("publish_dir = \"p\"\nlimits = 3\n[[domain]]\nhost = \"a.com\"\n", Some(2), "limits", "expected a table"),
        (
            "publish_dir = \"p\"\ncredentials_file = \"\"\n[[domain]]\nhost = \"a.com\"\n",
            Some(2),
            "credentials_file",
            "found an empty string",
        ),
        ("publish_dir = \"p\"\n[domain]\nhost = \"a.com\"\n", Some(2), "domain", "write each domain as a [[domain]] block"),
        ("publish_dir = \"p\"\ndomain = [1]\n", Some(2), "domain[0]", "invalid type: integer `1`, expected a table"),
        ("publish_dir = \"p\"\nexclude = [\"a/[b\"]\n[[domain]]\nhost = \"a.com\"\n", Some(2), "exclude[0]", "invalid glob"),
    ];
    for (text, line, key, words) in cases {
        let errs = parse(text).expect_err(text).0;
        assert_eq!(errs.len(), 1, "one error for {text:?}: {errs:?}");
        let e = &errs[0];
        assert_eq!(e.line, *line, "line for {text:?}: {e}");
        assert_eq!(e.key, *key, "key for {text:?}: {e}");
        assert!(e.message.contains(words), "message for {text:?} should contain {words:?}: {e}");
        assert!(e.to_string().starts_with("cdnsync.toml"), "{e}");
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let errs = parse("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\nscheme = \"ftp\"\nareas = [\"x\"]\n").unwrap_err();
    assert_eq!(errs.0.len(), 2, "{errs}");
}

#[test]
fn an_unknown_key_does_not_hide_the_other_errors() {
    let text =
        "publish_dir = \"p\"\ncolour = \"red\"\n[provider]\ntimeout_secs = \"30\"\n[[domain]]\nhost = \"a.com\"\nareas = [\"asia\"]\n";
    let errs = parse(text).unwrap_err().0;
    let got: Vec<_> = errs.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(got, [(Some(2), "colour"), (Some(4), "provider.timeout_secs"), (Some(7), "domain[0].areas[0]")], "{errs:?}");
    assert!(errs[1].message.contains("invalid type: string \"30\", expected a whole number"), "{}", errs[1]);
}

#[test]
fn every_kind_of_error_is_listed_in_file_order() {
    let text = "\
publish_dir = 3
[provider]
endpiont = \"x\"
api = \"v4\"
[[domain]]
hots = \"a.com\"
[[domain]]
host = \"-a-.com\"
areas = [\"mainland\", 7]
[limits]
concurrency = \"many\"
purge_urls_batch = 5000
[watch]
settle_ms = 5
";
    let errs = parse(text).unwrap_err().0;
    let got: Vec<_> = errs.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some(1), "publish_dir"),
            (Some(3), "provider.endpiont"),
            (Some(4), "provider.api"),
            (Some(5), "domain[0].host"),
            (Some(6), "domain[0].hots"),
            (Some(8), "domain[1].host"),
            (Some(9), "domain[1].areas[1]"),
            (Some(11), "limits.concurrency"),
            (Some(12), "limits.purge_urls_batch"),
            (Some(14), "watch.settle_ms"),
        ],
        "{}",
        ConfigErrors(errs.clone())
    );
    assert!(errs[4].message.contains("did you mean \"host\"?"), "{}", errs[4]);
}

#[test]
fn dotted_keys_and_inline_tables_are_read_like_tables() {
    let c = parse("publish_dir = \"p\"\nprovider.api = \"v2\"\nlimits = { concurrency = 3 }\ndomain = [{ host = \"a.com\" }]\n").unwrap();
    assert_eq!((c.provider.api, c.limits.concurrency, c.domains[0].host.as_str()), (Api::V2, 3, "a.com"));
    let e = parse("publish_dir = \"p\"\nprovider.api = 2\n[[domain]]\nhost = \"a.com\"\n").unwrap_err().0;
    assert_eq!((e[0].line, e[0].key.as_str()), (Some(2), "provider.api"), "{e:?}");
}

#[test]
fn plain_http_is_allowed_to_loopback_or_when_asked() {
    let with = |provider: &str| parse(&format!("publish_dir = \"p\"\n[provider]\n{provider}\n[[domain]]\nhost = \"a.com\"\n"));
    assert_eq!(with("endpoint = \"http://127.0.0.1:8080\"").unwrap().provider.endpoint.url(), "http://127.0.0.1:8080/");
    assert_eq!(with("endpoint = \"http://[::1]:8080/x\"").unwrap().provider.endpoint.url(), "http://[::1]:8080/x");
    let c = with("endpoint = \"http://proxy.internal:3128\"\nallow_plain_http = true").unwrap();
    assert!(c.provider.allow_plain_http);
    // The order of the keys does not matter.
    assert!(with("allow_plain_http = true\nendpoint = \"http://10.1.2.3\"").is_ok());
    assert!(with("endpoint = \"http://10.1.2.3\"\nallow_plain_http = false").is_err());
}

#[test]
fn a_huge_config_is_refused_before_it_is_parsed() {
    // 4 MB of what would otherwise parse (and take gigabytes of memory as globs).
    let text = format!("publish_dir = \"p\"\nexclude = [{}]\n", vec!["\"**/a/b/c/d\""; 350_000].join(","));
    assert!(text.len() > 4_000_000);
    let e = parse(&text).unwrap_err().0;
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains(&format!("the config is {} bytes, and cdnsync reads at most 1048576 (1 MiB)", text.len())), "{}", e[0]);
}

#[test]
fn the_number_and_length_of_globs_are_bounded() {
    // 200,000 globs fit in 1 MiB; they are refused before any is compiled.
    let text = format!("publish_dir = \"p\"\nexclude = [{}]\n[[domain]]\nhost = \"a.com\"\n", vec!["\"*\""; 200_000].join(","));
    assert!(text.len() < MAX_CONFIG_BYTES);
    let e = parse(&text).unwrap_err().0;
    assert_eq!(e.len(), 1, "{:?}", e.first());
    assert_eq!((e[0].line, e[0].key.as_str()), (Some(2), "exclude"));
    assert!(e[0].message.contains("too many globs: this list brings the config to 200000 and cdnsync reads at most 1000"), "{}", e[0]);
    // The bound is on the whole config, not one list.
    let domains: String =
        (0..3).map(|i| format!("[[domain]]\nhost = \"d{i}.com\"\nprefetch = [{}]\n", vec!["\"*\""; 400].join(","))).collect();
    let e = parse(&format!("publish_dir = \"p\"\n{domains}")).unwrap_err().0;
    assert_eq!(e.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["domain[2].prefetch"]);
    let long = format!("publish_dir = \"p\"\nexclude = [\"{}\"]\n[[domain]]\nhost = \"a.com\"\n", "a".repeat(MAX_GLOB_BYTES + 1));
    let e = parse(&long).unwrap_err().0;
    assert_eq!((e[0].key.as_str(), e[0].message.as_str()), ("exclude[0]", "glob of 1025 bytes: at most 1024 are allowed"));
}

#[test]
fn a_flood_of_errors_is_cut_short() {
    let text: String = (0..5000).map(|i| format!("k{i} = 1\n")).collect();
    let e = parse(&format!("publish_dir = \"p\"\n[[domain]]\nhost = \"a.com\"\n[watch]\n{text}")).unwrap_err().0;
    assert_eq!(e.len(), MAX_ERRORS + 1);
    assert_eq!(e[MAX_ERRORS].message, format!("{} more errors not shown (fix these first)", 5000 - MAX_ERRORS));
}

#[test]
fn load_reads_at_most_the_limit_and_only_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, format!("publish_dir = \"p\"\n#{}\n", "x".repeat(4 << 20))).unwrap();
    let e = load(&big).unwrap_err().to_string();
    assert!(e.contains("big.toml") && e.contains("cdnsync reads at most 1048576"), "{e}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, b"# ok\npublish_dir = \"p\xff\"\n").unwrap();
    let e = load(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.toml:2: the config is not UTF-8 text"), "{e}");
    // A device that never ends is read up to the limit only.
    let e = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert!(e.contains("the config is 1048577 bytes"), "{e}");
}

#[test]
fn the_number_of_domains_is_bounded() {
    let blocks = |n: usize| (0..n).map(|i| format!("[[domain]]\nhost = \"d{i}.example.com\"\n")).collect::<String>();
    assert_eq!(parse(&format!("publish_dir = \"p\"\n{}", blocks(MAX_DOMAINS))).unwrap().domains.len(), MAX_DOMAINS);
    let e = parse(&format!("publish_dir = \"p\"\n{}", blocks(MAX_DOMAINS + 1))).unwrap_err().0;
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].key.as_str(), e[0].message.as_str()), ("domain", "201 [[domain]] blocks, and cdnsync reads at most 200"));
}

#[test]
fn keys_that_mimic_the_parsers_private_names_are_errors_not_panics() {
    for text in [
        "publish_dir = \"p\"\nprovider.\"$__serde_spanned_private_start\" = 1\n[[domain]]\nhost = \"a.com\"\n",
        "publish_dir = \"p\"\nprovider.\"$__serde_spanned_private_start\" = 1\nprovider.x = 2\n[[domain]]\nhost = \"a.com\"\n",
        "publish_dir = \"p\"\n\"$__toml_private_datetime\" = 1\n[[domain]]\nhost = \"a.com\"\n",
        "publish_dir = \"p\"\nwatch.\"$__toml_private_datetime\" = \"x\"\nwatch.y = 1\n[[domain]]\nhost = \"a.com\"\n",
    ] {
        let e = parse(text).expect_err(text);
        assert!(!e.0.is_empty(), "{text}");
    }
}

#[test]
fn state_dir_may_not_be_publish_dir_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("site")).unwrap();
    let cfg = dir.path().join("cdnsync.toml");
    let write = |state: &str| {
        std::fs::write(&cfg, format!("publish_dir = \"site\"\nstate_dir = \"{state}\"\n[[domain]]\nhost = \"a.com\"\n")).unwrap();
    };
    write("./site/");
    let e = load(&cfg).unwrap_err().to_string();
    assert!(e.contains("state_dir: is publish_dir itself"), "{e}");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("site", dir.path().join("link")).unwrap();
        write("link");
        assert!(load(&cfg).is_err(), "the same folder through a symlink");
    }
    write("site/state");
    load(&cfg).unwrap();
}
