//! One bad job does not poison later runs: an exit code reports its own run, and `cdnsync outbox`
//! lists, drops and retries owed jobs.

use cdnsync::model::{Area, JobKind};

use crate::util::*;

#[test]
fn a_poisoned_outbox_is_recovered_with_outbox_drop() {
    let fake = fake();
    let site = TempSite::new(&fake, "", "");
    site.write("index.html", "v1");
    site.run(&["sync"]).expect(0);
    // A purge of a host the account does not have: refused for good, kept as failed.
    let bad = site.run(&["--json", "purge", "--any-host", "https://other.example.org/a.html"]);
    bad.expect(3);
    // Later, unrelated commands report it but exit with their own outcome.
    let purge = site.run(&["--json", "purge", "index.html"]);
    purge.expect(0);
    let held = purge.json()["held"].clone();
    assert_eq!(held.as_array().unwrap().len(), 1, "{}", purge.stdout);
    assert_eq!((held[0]["host"].as_str(), held[0]["status"].as_str()), (Some("other.example.org"), Some("failed")));
    let sync = site.run(&["sync"]);
    sync.expect(0);
    assert!(sync.stdout.contains("held from earlier runs (not this run's exit code): 1 job(s), 1 failed"), "{}", sync.stdout);
    assert!(sync.stdout.contains("ResourceNotFound.CdnHostNotExists"), "{}", sync.stdout);
    site.run(&["sync", "--retry-failed"]).expect(3);

    // `outbox` lists it with its error.
    let list = site.run(&["outbox"]);
    list.expect(0);
    assert!(list.stdout.starts_with("ID "), "a table: {}", list.stdout);
    assert!(list.stdout.contains("failed") && list.stdout.contains("other.example.org"), "{}", list.stdout);
    assert!(list.stdout.contains("ResourceNotFound.CdnHostNotExists"), "{}", list.stdout);
    let id = site.run(&["--json", "outbox"]).json()["jobs"][0]["id"].as_str().unwrap().to_string();

    // Not a terminal, no --yes: refused, nothing dropped.
    let refused = site.run(&["outbox", "drop", "--failed"]);
    refused.expect(2);
    assert!(refused.stderr.contains("add --yes") && refused.stderr.contains("nothing was dropped"), "{}", refused.stderr);
    assert_eq!(site.run(&["--json", "outbox"]).json()["outbox"]["failed"], 1);
    // An ID that is not owed: nothing is done.
    site.run(&["outbox", "drop", "--yes", "no-such-job"]).expect(2);

    let dropped = site.run(&["outbox", "drop", "--yes", &id]);
    dropped.expect(0);
    assert!(dropped.stdout.contains("dropped 1 job(s), 1 URL(s) never sent"), "{}", dropped.stdout);
    assert_eq!(site.run(&["outbox"]).stdout, "nothing is owed\n");
    // Given up, and said so by status.
    let st = site.run(&["--json", "status"]);
    assert_eq!(st.json()["outbox"]["failed"], 0);
    assert_eq!(st.json()["dropped"][0]["job"]["host"], "other.example.org", "{}", st.stdout);
    assert!(site.run(&["status"]).stdout.contains("given up (outbox drop): 1 job(s), 1 URL(s) never sent"));
    // And the next run is clean.
    site.write("index.html", "v2");
    let out = site.run(&["--json", "sync"]);
    out.expect(0);
    assert!(out.json()["held"].as_array().unwrap().is_empty());
}

#[test]
fn outbox_retry_resends_the_jobs_named() {
    let fake = fake_with(|c| c.token = Some("tmpSessionToken".into()));
    let site = TempSite::new(&fake, "", "");
    site.write("a.html", "v1");
    site.run(&["sync"]).expect(0);
    site.write("a.html", "v2");
    // Without the session token every request is refused for good.
    site.run(&["sync"]).expect(3);
    let failed = site.run(&["--json", "outbox"]).json()["outbox"]["failed"].as_u64().unwrap();
    assert_eq!(failed, 2, "one purge per area");
    let env = [("TENCENTCLOUD_SECRET_ID", SECRET_ID), ("TENCENTCLOUD_SECRET_KEY", SECRET_KEY), ("TENCENTCLOUD_TOKEN", "tmpSessionToken")];
    let list = site.run_env(&["--json", "outbox"], &env).json();
    let first = list["jobs"][0]["id"].as_str().unwrap().to_string();
    let one = site.run_env(&["--json", "outbox", "retry", &first], &env);
    one.expect(0);
    assert_eq!(one.json()["jobs"].as_array().unwrap().len(), 1, "{}", one.stdout);
    assert_eq!(one.json()["held"].as_array().unwrap().len(), 1, "the other is reported, not retried");
    let rest = site.run_env(&["outbox", "retry", "--failed"], &env);
    rest.expect(0);
    assert!(rest.stdout.contains("owed: 0 pending, 0 deferred, 0 failed"), "{}", rest.stdout);
    for area in Area::ALL {
        assert_eq!(fake.urls(JobKind::PurgeUrls, area), set(["https://www.example.com/a.html"]));
    }
}
