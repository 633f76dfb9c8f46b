//! A local Tencent Cloud CDN API on 127.0.0.1, to try a config without an account.
//!
//! ```text
//! cargo run --example fake_cdn -- --port 8080 --domain www.example.com
//! ```
//! Then set `[provider] endpoint = "http://127.0.0.1:8080"` and the printed credentials.
//! Options: `--domain HOST[=mainland,overseas]` (repeatable), `--fault-rate 0.3`,
//! `--task-ms 2000`, `--edgeone` (print an EdgeOne config: each domain is put in a zone named
//! after its last two labels). The fake answers API 3.0, v2 and EdgeOne at once. Stops on Ctrl-C.

use std::time::Duration;

use cdnsync::fake::{FakeCdn, FakeConfig, FakeZone};
use cdnsync::model::Area;

fn main() {
    let mut cfg = FakeConfig { domains: Vec::new(), ..FakeConfig::default() };
    let mut port = 8080u16;
    let mut edgeone = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--port" => port = val().parse().expect("--port takes a number"),
            "--domain" => {
                let v = val();
                let (host, areas) = v.split_once('=').unwrap_or((&v, "mainland,overseas"));
                let areas = areas.split(',').map(|s| Area::parse(s).expect("areas are mainland or overseas")).collect();
                cfg.domains.push((host.to_string(), areas));
            }
            "--fault-rate" => cfg.fault_rate = val().parse().expect("--fault-rate takes 0..1"),
            "--task-ms" => cfg.task_duration = Duration::from_millis(val().parse().expect("--task-ms takes a number")),
            "--edgeone" => edgeone = true,
            "--help" | "-h" => {
                eprintln!("usage: fake_cdn [--port N] [--domain HOST[=mainland,overseas]]... [--fault-rate P] [--task-ms MS] [--edgeone]");
                return;
            }
            other => panic!("unknown option {other}"),
        }
    }
    if cfg.domains.is_empty() {
        cfg.domains.push(("www.example.com".into(), vec![Area::Mainland, Area::Overseas]));
    }
    // EdgeOne zones: one per apex (the last two labels) of the domains.
    cfg.zones.clear();
    for (host, _) in &cfg.domains {
        let labels: Vec<&str> = host.split('.').collect();
        let apex = labels[labels.len().saturating_sub(2)..].join(".");
        match cfg.zones.iter_mut().find(|z| z.name == apex) {
            Some(z) => z.domains.push(host.clone()),
            None => {
                let id = format!("zone-fake{:04}", cfg.zones.len() + 1);
                cfg.zones.push(FakeZone::new(&id, &apex, &[host]));
            }
        }
    }
    let zones: Vec<String> = cfg.zones.iter().map(|z| format!("{} {} {:?}", z.id, z.name, z.domains)).collect();
    let (id, key) = (cfg.secret_id.clone(), cfg.secret_key.clone());
    let domains: Vec<String> = cfg.domains.iter().map(|(h, a)| format!("{h} ({a:?})")).collect();
    let fake = FakeCdn::start_on(port, cfg).expect("bind 127.0.0.1");
    eprintln!("fake Tencent CDN API (v3 at /, v2 at /v2/index.php, EdgeOne by its TC3 service) on {}", fake.url());
    eprintln!("domains: {}", domains.join(", "));
    eprintln!("EdgeOne zones: {}", zones.join(", "));
    if edgeone {
        eprintln!("in cdnsync.toml:  [provider] api = \"edgeone\" and endpoint = \"{}\"; no `areas` in [[domain]]", fake.url());
    } else {
        eprintln!("in cdnsync.toml:  [provider] endpoint = \"{}\"", fake.url());
    }
    eprintln!("credentials:      export TENCENTCLOUD_SECRET_ID={id} TENCENTCLOUD_SECRET_KEY={key}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    eprintln!("accepted {} job(s); bye", fake.accepted().len());
}
