//! Fleet mode end to end (`[fleet]`, `docs/fleet.md`): several members, each with its own
//! publish folder and state, one fake API and one private `redis-server`, all on one
//! `ManualClock`, so barrier timeouts and heartbeat TTLs pass in simulated time.
//!
//! What counts is what the fake API accepted: each changed URL purged once per area for the
//! whole fleet, never before every live member serves the new bytes, and never lost.

use std::sync::Arc;
use std::time::Duration;

use cdnsync::clock::{Clock, ManualClock};
use cdnsync::credentials::Credentials;
use cdnsync::fake::{FakeCdn, FakeConfig};
use cdnsync::model::{Area, JobKind};
use cdnsync::{AnyApi, Engine, Report, SyncOptions};

use crate::fleet::Redis;
use crate::util::*;

const T0: i64 = 1_795_400_000_000;
const PAGE: &str = "https://www.example.com/a.html";
const B_PAGE: &str = "https://www.example.com/b.html";

struct Fleet {
    clock: ManualClock,
    fake: FakeCdn,
    redis: Redis,
    sites: Vec<TempSite>,
    engines: Vec<Engine<AnyApi>>,
    prefix: String,
}

/// `names.len()` members of group `www`, each deployed with `a.html` v1 (a baseline, nothing
/// purged), `[fleet]` with `extra` keys.
async fn fleet(names: &[&str], extra: &str) -> Option<Fleet> {
    fleet_with(names, extra, "").await
}

/// As [`fleet`], with `limits` added to each member's `[limits]`.
async fn fleet_with(names: &[&str], extra: &str, limits: &str) -> Option<Fleet> {
    let redis = Redis::start(&[])?;
    let clock = ManualClock::new(T0);
    let fake = FakeCdn::start(FakeConfig { clock: Arc::new(clock.clone()), ..FakeConfig::default() }).unwrap();
    let prefix = format!("t{}", fastrand::u32(..));
    let mut sites = Vec::new();
    let mut engines = Vec::new();
    for name in names {
        let site = TempSite::new(&fake, "", "");
        site.edit_config("retry_deadline_secs = 20", &format!("retry_deadline_secs = 20\n{limits}"));
        site.append_config(&format!(
            "\n[fleet]\nredis = \"{}\"\ngroup = \"www\"\nmember = \"{name}\"\nkey_prefix = \"{prefix}\"\n{extra}\n",
            redis.url()
        ));
        site.write("a.html", "v1");
        site.write("b.html", "v1");
        site.write("docs/index.html", "v1");
        let cfg = cdnsync::config::load(&site.dir.join("cdnsync.toml")).unwrap();
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let api = cdnsync::api_for(&cfg, Credentials::new(SECRET_ID, SECRET_KEY, None), c.clone()).unwrap();
        let e = Engine::new(cfg, api, c);
        e.sync(&SyncOptions { baseline: true, ..SyncOptions::default() }, &()).await.unwrap();
        sites.push(site);
        engines.push(e);
    }
    Some(Fleet { clock, fake, redis, sites, engines, prefix })
}

impl Fleet {
    async fn sync(&self, m: usize) -> Report {
        self.engines[m].sync(&SyncOptions::default(), &()).await.unwrap()
    }

    /// Purges of `url` the API accepted in `area`.
    fn purges(&self, url: &str, area: Area) -> usize {
        self.fake
            .accepted()
            .iter()
            .filter(|a| a.kind == JobKind::PurgeUrls && a.areas.contains(&area) && a.urls.iter().any(|u| u == url))
            .count()
    }

    fn owed(&self, m: usize) -> usize {
        self.engines[m].owed().unwrap().len()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn a_purge_waits_for_every_member_and_goes_out_once() {
    rt().block_on(async {
        let Some(f) = fleet(&["a", "b", "c"], "").await else { return };
        // a has the new page; b and c still serve v1: nothing goes out, and a still owes it.
        f.sites[0].write("a.html", "v2");
        let r = f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 0, "purged before b and c serve v2");
        assert_eq!(r.exit_code(), 0, "a purge held by the fleet is not a failure: {:?}", r.jobs);
        assert!(r.notes.iter().any(|n| n.contains("held back") && n.contains("b, c")), "{:?}", r.notes);
        assert_eq!(f.owed(0), 2, "one job per area, still owed");
        assert!(r.held.iter().all(|j| j.error.as_ref().unwrap().code == cdnsync::FLEET_BARRIER), "{:?}", r.held);
        assert_eq!(r.held.len(), 2);
        // b catches up: c is still behind.
        f.sites[1].write("a.html", "v2");
        f.sync(1).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 0, "purged before c serves v2");
        // c catches up last: its sync finds the purge due and sends it.
        f.sites[2].write("a.html", "v2");
        f.sync(2).await;
        for area in Area::ALL {
            assert_eq!(f.purges(PAGE, area), 1, "{area}");
        }
        // a and b ask again: c already sent it for the same bytes, so they send nothing.
        let before = f.fake.accepted().len();
        let r = f.sync(0).await;
        assert!(r.notes.iter().any(|n| n.contains("already purged by another member")), "{:?}", r.notes);
        f.sync(1).await;
        assert_eq!(f.fake.accepted().len(), before, "a duplicate purge");
        assert_eq!((f.owed(0), f.owed(1), f.owed(2)), (0, 0, 0), "every member's debt is settled");
        // The prefetch-free page list: b.html was never changed, so never purged.
        assert_eq!(f.purges(B_PAGE, Area::Mainland), 0);
    });
}

#[test]
fn past_the_barrier_timeout_the_purge_goes_and_is_repeated_when_the_laggard_catches_up() {
    rt().block_on(async {
        let Some(f) = fleet(&["a", "b"], "barrier_timeout_secs = 60\nheartbeat_ttl_secs = 3600").await else { return };
        f.sites[0].write("a.html", "v2");
        f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 0);
        f.clock.advance(Duration::from_secs(61));
        let r = f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 1, "forced past the timeout");
        assert!(r.notes.iter().any(|n| n.contains("barrier timeout") && n.contains('b')), "the laggard is named: {:?}", r.notes);
        // b gets v2 at last: the CDN may have refetched v1 from b meanwhile, so it is purged again.
        f.clock.advance(Duration::from_secs(5));
        f.sites[1].write("a.html", "v2");
        f.sync(1).await;
        for area in Area::ALL {
            assert_eq!(f.purges(PAGE, area), 2, "{area}: once forced, once after the laggard caught up");
        }
        f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 2, "repeated once, not by every member");
        assert_eq!((f.owed(0), f.owed(1)), (0, 0));
    });
}

#[test]
fn a_member_that_stops_heartbeating_stops_holding_the_barrier() {
    rt().block_on(async {
        let Some(f) = fleet(&["a", "b"], "heartbeat_ttl_secs = 30").await else { return };
        f.sites[0].write("a.html", "v2");
        f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 0);
        // b goes silent (no sync, no heartbeat); a keeps going.
        f.clock.advance(Duration::from_secs(31));
        f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 1);
        assert_eq!(f.owed(0), 0);
    });
}

#[test]
fn with_redis_down_each_member_purges_on_its_own_and_nothing_is_lost() {
    rt().block_on(async {
        let Some(mut f) = fleet(&["a", "b"], "").await else { return };
        f.redis.kill();
        f.sites[0].write("a.html", "v2");
        let r = f.sync(0).await;
        assert!(
            r.warnings.iter().any(|w| w.contains("purging 2 URL(s) on our own") && w.contains("possible duplicates")),
            "{:?}",
            r.warnings
        );
        assert!(!r.warnings.iter().any(|w| w.contains(&f.redis.url()) && w.contains('@')), "no password shown");
        for area in Area::ALL {
            assert_eq!(f.purges(PAGE, area), 1, "{area}");
        }
        assert_eq!(f.owed(0), 0);
        f.sites[1].write("a.html", "v2");
        f.sync(1).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 2, "b purges too: a duplicate, never a loss");
        // Redis comes back empty: the members publish their whole state again and coordinate.
        assert!(f.redis.spawn(), "redis-server restarts on its port");
        // b rejoins (in watch mode: its next heartbeat) and publishes its whole state again.
        let r = f.sync(1).await;
        assert!(!r.warnings.iter().any(|w| w.contains("on our own")), "{:?}", r.warnings);
        f.sites[0].write("b.html", "v2");
        let r = f.sync(0).await;
        assert!(!r.warnings.iter().any(|w| w.contains("Redis") || w.contains("on our own")), "{:?}", r.warnings);
        assert_eq!(f.purges(B_PAGE, Area::Mainland), 0, "held again: b has not published b.html v2");
        f.sites[1].write("b.html", "v2");
        f.sync(1).await;
        f.sync(0).await;
        assert_eq!(f.purges(B_PAGE, Area::Mainland), 1, "once, for the fleet");
    });
}

#[test]
fn status_lists_the_members_and_their_last_deploys() {
    rt().block_on(async {
        let Some(f) = fleet(&["a", "b"], "").await else { return };
        f.sites[0].write("a.html", "v2");
        f.sync(0).await;
        let st = f.engines[1].fleet_status().await.unwrap().expect("a fleet");
        assert_eq!((st.group.as_str(), st.member.as_str(), st.error.as_deref()), ("www", "b", None));
        let names: Vec<&str> = st.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(st.members.iter().all(|m| m.live && m.ready), "{:?}", st.members);
        let a = &st.members[0];
        assert!(a.last_deploy.as_deref().is_some_and(|d| d.contains("1 changed")), "{a:?}");
        assert_eq!(a.last_deploy_unix, Some(T0 / 1000));
        // The command: on the real clock, a day later, both members are long silent.
        let out = f.sites[1].run(&["status"]);
        assert!(out.stdout.contains("fleet: group www, this member b"), "{}", out.stdout);
        assert!(out.stdout.contains("  a gone, last seen") && out.stdout.contains("last deploy 1 changed file(s)"), "{}", out.stdout);
        let j = f.sites[1].run(&["status", "--json"]).json();
        assert_eq!(j["fleet"]["members"][0]["name"], "a");
        assert_eq!(j["fleet"]["members"][0]["live"], false);
    });
}

#[test]
fn a_claim_whose_holder_died_is_taken_over_after_the_lease() {
    use cdnsync::fleet::{Claim, Content, Coordinator, FleetSettings, Item};
    use cdnsync::model::ContentHash;
    rt().block_on(async {
        let Some(f) = fleet(&["a"], "lease_secs = 20").await else { return };
        // Member "ghost" claimed a.html v2 in both areas, then died before sending.
        let mut s = FleetSettings::new(&f.redis.url(), "www", "ghost", &|_| None).unwrap();
        s.key_prefix = f.prefix.clone();
        s.lease = Duration::from_secs(20);
        let ghost = Coordinator::new(s, Arc::new(f.clock.clone()) as Arc<dyn Clock>).unwrap();
        let items: Vec<Item> = Area::ALL
            .iter()
            .map(|&area| Item {
                kind: JobKind::PurgeUrls,
                area,
                domain: "www.example.com".into(),
                url: PAGE.into(),
                content: Content::Hash(ContentHash::of(b"v2")),
                round: 0,
            })
            .collect();
        assert!(ghost.claim(&items).await.unwrap().iter().all(|c| *c == Claim::Mine));
        f.sites[0].write("a.html", "v2");
        let r = f.sync(0).await;
        assert_eq!(f.purges(PAGE, Area::Mainland), 0, "another member holds the claim");
        assert!(r.held.iter().all(|j| j.error.as_ref().unwrap().code == cdnsync::FLEET_CLAIMED), "{:?}", r.held);
        assert!(r.notes.iter().any(|n| n.contains("claimed by fleet member ghost")), "{:?}", r.notes);
        // Past the lease, the claim is taken over and the purge goes out.
        f.clock.advance(Duration::from_secs(21));
        f.sync(0).await;
        for area in Area::ALL {
            assert_eq!(f.purges(PAGE, area), 1, "{area}");
        }
        assert_eq!(f.owed(0), 0);
    });
}

#[test]
fn the_members_share_the_accounts_rate_limit() {
    rt().block_on(async {
        // One request per URL, one at a time: 15 from a, then 15 from b, at the same instant
        // (the clock moves only when someone waits). The API allows 20 a second per account.
        let Some(f) = fleet_with(&["a", "b"], "", "purge_urls_batch = 1\nconcurrency = 1").await else { return };
        let urls = |m: &str| (0..15).map(|i| format!("https://www.example.com/{m}/{i}.html")).collect::<Vec<_>>();
        let (ua, ub) = (urls("a"), urls("b"));
        let req = |targets| cdnsync::AdhocRequest {
            kind: JobKind::PurgeUrls,
            targets,
            dir: false,
            area: Some(Area::Mainland),
            any_host: false,
            wait: None,
        };
        let start = f.clock.now_ms();
        f.engines[0].submit_adhoc(&req(&ua), &()).await.unwrap();
        assert_eq!(f.clock.now_ms(), start, "15 requests fit in one window");
        f.engines[1].submit_adhoc(&req(&ub), &()).await.unwrap();
        let purges: Vec<String> = f.fake.requests().into_iter().filter(|q| q.action == "PurgeUrlsCache").map(|q| q.outcome).collect();
        assert_eq!(purges.len(), 30, "nothing throttled and retried: {purges:?}");
        assert!(purges.iter().all(|o| o == "ok"), "{purges:?}");
        assert!(f.clock.now_ms() - start >= 1000, "b waited for a's requests to leave the shared window");
    });
}

/// Separate `cdnsync sync` processes on the real clock: a member killed while it holds claims
/// (after claiming, before sending) does not take the purge with it.
#[test]
fn a_member_killed_while_holding_a_claim_is_taken_over_by_another_process() {
    let Some(redis) = Redis::start(&[]) else { return };
    let fake = fake();
    let prefix = format!("t{}", fastrand::u32(..));
    let sites: Vec<TempSite> = ["a", "b"]
        .iter()
        .map(|name| {
            let site = TempSite::new(&fake, "", "");
            site.append_config(&format!(
                "\n[fleet]\nredis = \"{}\"\ngroup = \"www\"\nmember = \"{name}\"\nkey_prefix = \"{prefix}\"\nlease_secs = 1\n",
                redis.url()
            ));
            site.write("a.html", "v1");
            site.run(&["sync", "--baseline"]).expect(0);
            site.write("a.html", "v2");
            site
        })
        .collect();
    let (a, b) = (&sites[0], &sites[1]);
    // b has the new bytes first: held for a.
    b.run(&["sync"]).expect(0);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).is_empty());
    // a's sync finds the purge due, claims it, and is killed before sending.
    let mut run = a.spawn(&["sync"], &[("CDNSYNC_FAILPOINT", "fleet-claimed")]);
    run.wait_for_line("failpoint fleet-claimed");
    run.kill();
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).is_empty());
    // b asks at once: a's lease is live, so b holds back and says who has it.
    let out = b.run(&["sync", "--json"]);
    out.expect(0);
    assert!(out.stdout.contains("FleetClaimed") && out.stdout.contains("claimed by fleet member a"), "{}", out.stdout);
    assert!(fake.urls(JobKind::PurgeUrls, Area::Mainland).is_empty());
    // Past the lease, b takes the claim over and sends.
    sleep(Duration::from_millis(1200));
    b.run(&["sync"]).expect(0);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set([PAGE]), "{area}");
    }
    // a comes back: its outbox still owes the purge; the fleet says it was sent.
    let before = fake.accepted().len();
    let out = a.run(&["sync"]);
    out.expect(0);
    assert_eq!(fake.accepted().len(), before, "no duplicate");
    assert!(out.stdout.contains("already purged by another member") || out.stderr.contains("already purged by another member"), "{out:?}");
    assert!(exists(&a.state()) && std::fs::read_dir(a.state().join("outbox")).unwrap().count() == 0, "a's debt is settled");
}

#[test]
fn a_prefetch_goes_once_for_the_fleet_after_its_purge() {
    rt().block_on(async {
        let Some(f) = fleet(&["a", "b", "c"], "").await else { return };
        const INDEX: &str = "https://www.example.com/docs/index.html";
        // A page the config prefetches (`**/index.html`) changes, reaching the members in turn.
        for m in 0..3 {
            f.sites[m].write("docs/index.html", "v2");
            f.sync(m).await;
        }
        for m in 0..3 {
            f.sync(m).await;
        }
        let accepted = f.fake.accepted();
        for area in Area::ALL {
            let of = |kind| accepted.iter().position(|a| a.kind == kind && a.areas.contains(&area) && a.urls.iter().any(|u| u == INDEX));
            let count =
                |kind| accepted.iter().filter(|a| a.kind == kind && a.areas.contains(&area) && a.urls.iter().any(|u| u == INDEX)).count();
            assert_eq!((count(JobKind::PurgeUrls), count(JobKind::PrefetchUrls)), (1, 1), "{area}: once each for the fleet");
            assert!(of(JobKind::PurgeUrls) < of(JobKind::PrefetchUrls), "{area}: the prefetch after its purge");
        }
        assert_eq!((f.owed(0), f.owed(1), f.owed(2)), (0, 0, 0));
    });
}

/// `cdnsync watch` under `[fleet]`: an idle watcher stays live by its heartbeats alone (so it
/// keeps holding purges back until it serves their bytes), and leaves the group when stopped.
#[test]
fn a_watching_member_heartbeats_while_idle_and_leaves_when_stopped() {
    let Some(redis) = Redis::start(&[]) else { return };
    let fake = fake();
    let prefix = format!("t{}", fastrand::u32(..));
    let member = |name: &str| {
        let site = TempSite::new(&fake, "", "");
        site.append_config(&format!(
            "\n[fleet]\nredis = \"{}\"\ngroup = \"www\"\nmember = \"{name}\"\nkey_prefix = \"{prefix}\"\nheartbeat_ttl_secs = 3\n",
            redis.url()
        ));
        site.write("a.html", "v1");
        site
    };
    let (w, other) = (member("w"), member("s"));
    w.run(&["sync", "--baseline"]).expect(0);
    let live = |name: &str| -> Option<bool> {
        let j = other.run(&["status", "--json"]).json();
        j["fleet"]["members"].as_array().unwrap().iter().find(|m| m["name"] == name).map(|m| m["live"] == true)
    };
    let mut run = w.spawn(&["watch"], &[]);
    run.wait_for_line("synced whole tree (start-up)");
    // Idle for longer than the TTL: only the heartbeats (every second) keep it live.
    sleep(Duration::from_millis(4500));
    assert_eq!(live("w"), Some(true), "an idle watcher is still a live member");
    run.terminate();
    let (code, _) = run.finish_within(15);
    assert_eq!(code, 0);
    assert_eq!(live("w"), None, "a watcher that stops leaves the group at once");
}
