//! EdgeOne's wire formats and decisions, table by table (the client end to end is in
//! `tests/edgeone.rs`, against the fake).

use serde_json::json;

use super::tasks::{state_of, window};
use super::wire::{self, TaskRow};
use super::*;
use crate::api::Rejected;

fn job(kind: JobKind, urls: &[&str]) -> Job {
    let host = url::Url::parse(urls[0]).unwrap().host_str().unwrap().to_string();
    Job::planned(kind, Area::Global, &host, urls.iter().map(|u| u.to_string()).collect(), 1_700_000_000, 1)
}

fn body(job: &Job, method: PurgeMethod) -> String {
    String::from_utf8(wire::outgoing(job, "zone-1", method).body).unwrap()
}

#[test]
fn jobs_map_to_purge_types() {
    let urls = job(JobKind::PurgeUrls, &["https://www.example.com/a.html", "https://www.example.com/"]);
    assert_eq!(
        body(&urls, PurgeMethod::Delete),
        r#"{"ZoneId":"zone-1","Type":"purge_url","Targets":["https://www.example.com/a.html","https://www.example.com/"]}"#,
        "URL purges carry no Method (EdgeOne deletes them)"
    );
    let dirs = job(JobKind::PurgePaths, &["https://www.example.com/blog/", "https://www.example.com/docs/"]);
    assert_eq!(
        body(&dirs, PurgeMethod::Delete),
        r#"{"ZoneId":"zone-1","Type":"purge_prefix","Method":"delete","Targets":["https://www.example.com/blog/","https://www.example.com/docs/"]}"#
    );
    // A whole domain (the root of a site at "/"): purge_host with the bare host, never purge_all.
    let root = job(JobKind::PurgePaths, &["https://www.example.com/"]);
    assert_eq!(wire::task_type(&root), "purge_host");
    assert_eq!(
        body(&root, PurgeMethod::Invalidate),
        r#"{"ZoneId":"zone-1","Type":"purge_host","Method":"invalidate","Targets":["www.example.com"]}"#
    );
    let both_schemes = job(JobKind::PurgePaths, &["https://WWW.example.com/", "http://www.example.com/"]);
    assert_eq!(wire::targets(&both_schemes), vec![("www.example.com".to_string(), both_schemes.urls.clone())]);
    // A site under /site/ is a prefix; a root mixed with a directory is sent as prefixes (the
    // root prefix covers the directory).
    assert_eq!(wire::task_type(&job(JobKind::PurgePaths, &["https://www.example.com/site/"])), "purge_prefix");
    assert_eq!(wire::task_type(&job(JobKind::PurgePaths, &["https://www.example.com/", "https://www.example.com/a/"])), "purge_prefix");
    assert_eq!(wire::task_type(&job(JobKind::PurgePaths, &["https://www.example.com/?x=1"])), "purge_prefix");
    let pre = job(JobKind::PrefetchUrls, &["https://www.example.com/"]);
    assert_eq!(body(&pre, PurgeMethod::Delete), r#"{"ZoneId":"zone-1","Targets":["https://www.example.com/"]}"#);
    assert_eq!(wire::outgoing(&pre, "zone-1", PurgeMethod::Delete).action, "CreatePrefetchTask");
    assert_eq!(
        crate::api::action_name(Api::EdgeOne, crate::config::V2Overseas::Overall, JobKind::PurgePaths, Area::Global),
        "CreatePurgeTask"
    );
}

#[test]
fn error_codes_are_classified_as_documented() {
    let cases = [
        ("InternalError", Class::Transient),
        ("InternalError.BackendError", Class::Transient),
        ("InternalError.ProxyServer", Class::Transient),
        ("InternalError.QuotaSystem", Class::Transient),
        ("InternalError.DomainConfig", Class::Transient),
        ("InternalError.FailedToGenerateUrl", Class::Transient),
        ("UnauthorizedOperation.Unknown", Class::Transient),
        ("RequestLimitExceeded", Class::Throttled),
        ("RequestLimitExceeded.UinLimitExceeded", Class::Throttled),
        ("LimitExceeded.RateLimitExceeded", Class::Throttled),
        ("LimitExceeded.BatchQuota", Class::BatchTooLarge),
        ("LimitExceeded.DailyQuota", Class::QuotaExhausted),
        ("LimitExceeded.PackNotAllow", Class::Permanent),
        ("AuthFailure.SignatureFailure", Class::Permanent),
        ("AuthFailure.SignatureExpire", Class::Permanent),
        ("UnauthorizedOperation.CamUnauthorized", Class::Permanent),
        ("UnauthorizedOperation.NoPermission", Class::Permanent),
        ("UnauthorizedOperation.DomainEmpty", Class::Permanent),
        ("OperationDenied", Class::Permanent),
        ("InvalidParameter.DomainNotFound", Class::Permanent),
        ("InvalidParameter.Target", Class::Permanent),
        ("InvalidParameter.ParameterError", Class::Permanent),
        ("InvalidParameter.TaskNotGenerated", Class::Permanent),
        ("MissingParameter", Class::Permanent),
        ("InvalidAction", Class::Permanent),
        ("SomethingNew.NobodyDocumented", Class::Permanent),
        // API 3.0's CDN quota codes mean nothing here.
        ("LimitExceeded.CdnPurgeUrlExceedDayLimit", Class::Permanent),
    ];
    for (code, want) in cases {
        assert_eq!(classify(code), want, "{code}");
    }
    // Through the envelope: tagged as EdgeOne's, the code kept verbatim, advice added where known.
    let err = |code: &str| {
        let body = json!({"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "r1"}}).to_string();
        wire::parse_envelope(200, body.as_bytes()).unwrap_err()
    };
    assert_eq!(err("LimitExceeded.DailyQuota").class(), Class::QuotaExhausted);
    assert_eq!(err("LimitExceeded.BatchQuota").class(), Class::BatchTooLarge);
    let unknown = err("Weird.Code").to_job_error();
    assert_eq!((unknown.code.as_str(), err("Weird.Code").class()), ("Weird.Code", Class::Permanent));
    assert!(err("LimitExceeded.PackNotAllow").to_job_error().message.contains("collapse = \"never\""));
    assert!(matches!(wire::parse_envelope(200, b"<html>"), Err(Failure::Decode { .. })));
    assert_eq!(wire::parse_envelope(503, b"busy").unwrap_err().class(), Class::Transient);
}

#[test]
fn failed_list_names_the_urls_refused() {
    let dirs = job(JobKind::PurgeUrls, &["https://www.example.com/a", "https://www.example.com/b", "https://www.example.com/c"]);
    let sent = wire::targets(&dirs);
    let resp = json!({"JobId": "j1", "FailedList": [{"Reason": "domain not valid", "Targets": ["https://www.example.com/b"]}]});
    let rejected = wire::failed_list(&resp, &sent);
    assert_eq!(rejected, vec![Rejected { reason: "domain not valid".into(), urls: vec!["https://www.example.com/b".into()] }]);
    let acc = Accepted { task_id: Some("j1".into()), rejected };
    let (kept, refused, error) = acc.split(&dirs.urls);
    assert_eq!(
        (kept.len(), refused, error.as_ref().map(|e| e.code.as_str())),
        (2, vec!["https://www.example.com/b".to_string()], Some("FailedList"))
    );
    assert!(error.unwrap().message.contains("domain not valid"));
    for none in [json!({"JobId": "j"}), json!({"JobId": "j", "FailedList": null}), json!({"JobId": "j", "FailedList": []})] {
        assert!(wire::failed_list(&none, &sent).is_empty(), "{none}");
        assert_eq!(Accepted::task(None).split(&dirs.urls).2, None);
    }
    // A host purge's failure names the host: it stands for the root URL(s).
    let root = job(JobKind::PurgePaths, &["https://www.example.com/"]);
    let r = wire::failed_list(&json!({"FailedList": [{"Reason": "x", "Targets": ["www.example.com"]}]}), &wire::targets(&root));
    assert_eq!(r[0].urls, root.urls);
    // A target never sent (a reply that is not about this request): everything counts as refused.
    let r = wire::failed_list(&json!({"FailedList": [{"Reason": "x", "Targets": ["https://other/"]}]}), &sent);
    assert_eq!(r[0].urls, dirs.urls);
    for garbage in
        [json!({"FailedList": "all"}), json!({"FailedList": [{"Reason": "x"}]}), json!({"FailedList": [{"Reason": "x", "Targets": [1]}]})]
    {
        assert_eq!(wire::failed_list(&garbage, &sent)[0].urls, dirs.urls, "{garbage}");
    }
}

#[test]
fn quotas_are_per_zone_and_the_book_takes_the_least() {
    let a = wire::quota_rows(&json!({
        "PurgeQuota": [
            {"Type": "purge_url", "Batch": 2000, "Daily": 10000, "DailyAvailable": 9000},
            {"Type": "purge_prefix", "Batch": 500, "Daily": 1000, "DailyAvailable": 800},
            {"Type": "purge_host", "Batch": 100, "Daily": 1000, "DailyAvailable": 900},
            {"Type": "purge_all", "Batch": 1, "Daily": 10, "DailyAvailable": 10}
        ],
        "PrefetchQuota": null
    }));
    let b = wire::quota_rows(&json!({"PurgeQuota": [{"Type": "purge_url", "Batch": 1000, "Daily": 20000, "DailyAvailable": 12000}],
        "PrefetchQuota": [{"Type": "prefetch_url", "Batch": 100, "Daily": 500, "DailyAvailable": 0}]}));
    let book = book_of(&[("zone-a".into(), a), ("zone-b".into(), b)]);
    let e = |k, want: (u64, u64, u64)| {
        let got = book.get(k, Area::Global).unwrap();
        assert_eq!((got.batch, got.total, got.available), want, "{k}");
    };
    e(JobKind::PurgeUrls, (1000, 10_000, 9000));
    e(JobKind::PurgePaths, (100, 1000, 800));
    e(JobKind::PrefetchUrls, (100, 500, 0));
    assert_eq!(book.entries["zone-a/purge_all"].available, 10);
    assert_eq!(book.entries["zone-b/prefetch_url"].total, 500);
    assert!(book.get(JobKind::PurgeUrls, Area::Mainland).is_none(), "EdgeOne has no CDN areas");
    // No zone answered: the documented figures.
    assert_eq!(book_of(&[]).get(JobKind::PurgePaths, Area::Global).unwrap().total, 10_000);
}

#[test]
fn task_states_windows_and_zone_names() {
    let row = |status: &str| TaskRow {
        job_id: "j".into(),
        target: "t".into(),
        task_type: "purge_url".into(),
        status: status.into(),
        created_unix: None,
    };
    assert_eq!(state_of(&[]), TaskState::Processing);
    assert_eq!(state_of(&[row("success"), row("processing")]), TaskState::Processing);
    assert_eq!(state_of(&[row("success"), row("success")]), TaskState::Done);
    for bad in ["failed", "timeout", "canceled", "invalid", "somethingelse"] {
        assert_eq!(state_of(&[row("success"), row(bad)]), TaskState::Failed, "{bad}");
    }
    let (rows, total) = wire::task_rows(
        &json!({"TotalCount": 3, "Tasks": [{"JobId": "j", "Target": "t", "Type": "purge_url", "Status": "success", "CreateTime": "2025-12-31T16:00:00Z"}]}),
    );
    assert_eq!((rows[0].created_unix, total), (Some(1_767_196_800), 3));

    let now = 1_767_225_600;
    assert_eq!(window(now - 3600, now), ("2026-01-01T06:59:00+08:00".to_string(), "2026-01-01T08:01:00+08:00".to_string()));
    let (start, end) = window(now - 30 * 86_400, now);
    let span = crate::clock::parse_iso8601(&end).unwrap() - crate::clock::parse_iso8601(&start).unwrap();
    assert_eq!(span, tasks::MAX_WINDOW_SECS, "never longer than 7 days");
    let (start, end) = window(now + 7200, now);
    assert!(crate::clock::parse_iso8601(&start) <= crate::clock::parse_iso8601(&end), "a future start is clamped");

    assert_eq!(wire::zone_name_candidates("www.a.example.com"), ["www.a.example.com", "a.example.com", "example.com"]);
    assert_eq!(wire::zone_name_candidates("example.com"), ["example.com"]);
    let deep = format!("{}example.com", "a.".repeat(30));
    let c = wire::zone_name_candidates(&deep);
    assert_eq!((c.len(), c.last().map(String::as_str)), (wire::MAX_FILTER_VALUES, Some("example.com")), "a filter takes 20 values");
    assert!(wire::under("www.example.com", "example.com") && wire::under("example.com", "example.com"));
    assert!(!wire::under("www.badexample.com", "example.com") && !wire::under("www.example.com", ""));
}
