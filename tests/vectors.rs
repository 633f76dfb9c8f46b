//! Tencent's official SDK signing vectors (copied from shared/vectors into tests/data/vectors):
//! one test per vector, checking each stage in order.

use cdnsync::api::sign::{tc3, v2};
use cdnsync::config::{PurgeMethod, SignatureMethod};
use cdnsync::model::{Area, Job, JobKind};
use serde_json::Value;

fn load(file: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors").join(file);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

fn method(v: &Value) -> SignatureMethod {
    match s(v, "signature_method") {
        "HmacSHA1" => SignatureMethod::HmacSha1,
        "HmacSHA256" => SignatureMethod::HmacSha256,
        other => panic!("{other}"),
    }
}

/// v3.json: canonical request, string to sign, signature, then the headers.
fn v3_case(i: usize) {
    let c = &load("v3.json")["cases"][i];
    let ts = c["timestamp"].as_i64().unwrap();
    let req = tc3::Tc3Request {
        method: "POST",
        query: "",
        content_type: s(c, "content_type"),
        host: s(c, "host"),
        payload: s(c, "payload").as_bytes(),
    };
    let canonical = tc3::canonical_request(&req);
    assert_eq!(canonical, s(c, "canonical_request"));
    let sts = tc3::string_to_sign(&canonical, ts, "cdn");
    assert_eq!(sts, s(c, "string_to_sign"));
    let sig = tc3::signature(s(c, "secret_key"), ts, "cdn", &sts);
    assert_eq!(sig, s(c, "signature"));
    let h = &c["headers"];
    assert_eq!(tc3::authorization(s(c, "secret_id"), ts, "cdn", &sig), s(h, "Authorization"));
    assert_eq!(ts.to_string(), s(h, "X-TC-Timestamp"));
    assert_eq!(s(h, "X-TC-Version"), cdnsync::api::v3::VERSION);
    assert_eq!(s(h, "X-TC-Action"), s(c, "action"));
}

/// v3-more.json tc3_cases: over the exact body bytes (and the query string for GET).
fn v3_more_tc3(i: usize) {
    let c = &load("v3-more.json")["tc3_cases"][i];
    let ts = c["timestamp"].as_i64().unwrap();
    let payload = hex::decode(s(c, "payload_utf8_hex")).unwrap();
    let req = tc3::Tc3Request {
        method: s(c, "http_method"),
        query: s(c, "query_string"),
        content_type: s(c, "content_type"),
        host: s(c, "host"),
        payload: &payload,
    };
    assert_eq!(tc3::sha256_hex(&payload), s(c, "hashed_payload"));
    let canonical = tc3::canonical_request(&req);
    assert_eq!(canonical, s(c, "canonical_request"), "{}", s(c, "name"));
    assert_eq!(tc3::scope_date(ts), s(c, "date"));
    let sts = tc3::string_to_sign(&canonical, ts, s(c, "service"));
    assert_eq!(sts, s(c, "string_to_sign"));
    let sig = tc3::signature(s(c, "secret_key"), ts, s(c, "service"), &sts);
    assert_eq!(sig, s(c, "signature"));
    assert_eq!(tc3::authorization(s(c, "secret_id"), ts, s(c, "service"), &sig), s(c, "authorization"));
    assert_eq!(s(&c["headers"], "Authorization"), s(c, "authorization"));
    // Our client's own body for the same fields, when it is JSON POST, signs and verifies alike.
    if s(c, "http_method") == "POST" {
        let ours = serde_json::to_vec(&c["request_fields"]).unwrap();
        let auth = tc3::sign(&tc3::Tc3Request { payload: &ours, ..req }, s(c, "secret_id"), s(c, "secret_key"), ts, "cdn");
        assert!(auth.starts_with(&format!("TC3-HMAC-SHA256 Credential={}/{}/cdn/tc3_request", s(c, "secret_id"), s(c, "date"))));
    }
}

/// teo.json (EdgeOne, service `teo`): canonical request, string to sign, signature, the
/// headers; then the body our client writes for the same fields is byte for byte the payload.
fn teo_case(i: usize) {
    use cdnsync::api::teo::{self, wire};
    let c = &load("teo.json")["cases"][i];
    let ts = c["timestamp"].as_i64().unwrap();
    let payload = s(c, "payload");
    let req =
        tc3::Tc3Request { method: "POST", query: "", content_type: s(c, "content_type"), host: s(c, "host"), payload: payload.as_bytes() };
    let canonical = tc3::canonical_request(&req);
    assert_eq!(canonical, s(c, "canonical_request"));
    assert_eq!(tc3::scope_date(ts), s(c, "string_to_sign").split('\n').nth(2).unwrap().split('/').next().unwrap());
    let sts = tc3::string_to_sign(&canonical, ts, teo::SERVICE);
    assert_eq!(sts, s(c, "string_to_sign"));
    let sig = tc3::signature(s(c, "secret_key"), ts, teo::SERVICE, &sts);
    assert_eq!(sig, s(c, "signature"));
    let h = &c["headers"];
    assert_eq!(tc3::authorization(s(c, "secret_id"), ts, teo::SERVICE, &sig), s(h, "Authorization"));
    assert_eq!(tc3::sign(&req, s(c, "secret_id"), s(c, "secret_key"), ts, teo::SERVICE), s(h, "Authorization"));
    assert_eq!(ts.to_string(), s(h, "X-TC-Timestamp"));
    assert_eq!(s(h, "X-TC-Version"), teo::VERSION);
    assert_eq!(s(h, "X-TC-Action"), s(c, "action"));
    assert_eq!(s(h, "Host"), s(c, "host"));
    assert_eq!(h.get("X-TC-Region"), None, "EdgeOne's actions take no Region");
    // Our own bodies for the same fields.
    let fields: Value = serde_json::from_str(payload).unwrap();
    let ours = match s(c, "action") {
        "CreatePurgeTask" | "CreatePrefetchTask" => {
            let kind = match (s(c, "action"), fields.get("Type").and_then(Value::as_str)) {
                ("CreatePrefetchTask", _) => JobKind::PrefetchUrls,
                (_, Some("purge_url")) => JobKind::PurgeUrls,
                (_, Some("purge_prefix")) => JobKind::PurgePaths,
                (_, other) => panic!("{other:?}"),
            };
            let urls: Vec<String> = fields["Targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
            let host = url::Url::parse(&urls[0]).unwrap().host_str().unwrap().to_string();
            let job = Job::planned(kind, Area::Global, &host, urls, ts, 1);
            let method = match fields.get("Method").and_then(Value::as_str) {
                Some("delete") => PurgeMethod::Delete,
                _ => PurgeMethod::Invalidate,
            };
            let out = wire::outgoing(&job, s(&fields, "ZoneId"), method);
            assert_eq!(out.action, s(c, "action"));
            out.body
        }
        "DescribePurgeTasks" => {
            let filters = fields["Filters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| wire::Filter {
                    name: s(f, "Name").into(),
                    values: f["Values"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                })
                .collect();
            let q = wire::TasksQuery {
                zone_id: s(&fields, "ZoneId").into(),
                start_time: Some(s(&fields, "StartTime").into()),
                end_time: Some(s(&fields, "EndTime").into()),
                offset: fields["Offset"].as_u64().unwrap(),
                limit: fields["Limit"].as_u64().unwrap(),
                filters,
            };
            // The window our client would ask for, ending a minute after this request's time.
            let (_, end) = teo::tasks::window(ts - 86_400, ts);
            assert_eq!(cdnsync::clock::parse_iso8601(&end), Some(ts + 60));
            serde_json::to_vec(&q).unwrap()
        }
        _ => return,
    };
    assert_eq!(String::from_utf8(ours).unwrap(), payload, "our body for {}", s(c, "action"));
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Array(a) => a.iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string())).collect(),
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect(),
        other => panic!("{other}"),
    }
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// Legacy signature: string to sign, signature, then what goes on the wire.
fn v2_check(c: &Value, path: &str, wire: Option<&str>) {
    let params = pairs(&c["params"]);
    let sts = v2::string_to_sign(s(c, "http_method"), s(c, "host"), path, &params);
    assert_eq!(sts, s(c, "string_to_sign"));
    let sig = v2::signature(s(c, "secret_key"), method(c), &sts);
    assert_eq!(sig, s(c, "signature"));
    let mut with_sig = params.clone();
    with_sig.push(("Signature".into(), sig));
    let ours = v2::encode_params(&with_sig);
    if let Some(wire) = wire {
        // Same decoded pairs as the SDK's wire form; and our own encoding decodes back exactly.
        assert_eq!(sorted(v2::parse_params(wire).unwrap()), sorted(with_sig.clone()));
        assert_eq!(sorted(v2::parse_params(&ours).unwrap()), sorted(with_sig));
    }
}

fn v2_case(i: usize) {
    let c = &load("v2.json")["cases"][i];
    v2_check(c, s(c, "path"), Some(s(c, "wire_query_or_body")));
}

fn v2_more(i: usize) {
    let c = &load("v2-more.json")["cases"][i];
    let wire = if s(c, "http_method") == "GET" {
        s(c, "request_url").split_once('?').unwrap().1.to_string()
    } else {
        s(c, "request_body").to_string()
    };
    v2_check(c, s(c, "path"), Some(&wire));
}

fn v1_on_api3(i: usize) {
    let c = &load("v3-more.json")["v1_on_api3_cases"][i];
    v2_check(c, s(c, "path"), Some(s(c, "wire")));
}

macro_rules! vector_tests {
    ($($name:ident => $f:ident($i:expr);)*) => { $( #[test] fn $name() { $f($i) } )* };
}

vector_tests! {
    v3_purge_urls => v3_case(0);
    v3_purge_path => v3_case(1);
    v3_push_urls_token => v3_case(2);
    v3_describe_purge_quota => v3_case(3);
    v3_purge_urls_local_endpoint => v3_case(4);
    v3_describe_purge_tasks => v3_case(5);
    v3_more_purge_urls_space_cjk => v3_more_tc3(0);
    v3_more_purge_path_token_date_edge => v3_more_tc3(1);
    v3_more_push_all_fields => v3_more_tc3(2);
    v3_more_purge_quota_token => v3_more_tc3(3);
    v3_more_push_quota => v3_more_tc3(4);
    v3_more_get_query_signed => v3_more_tc3(5);
    v3_more_purge_tasks_by_time => v3_more_tc3(6);
    v3_more_push_tasks_by_taskid => v3_more_tc3(7);
    v3_more_compact_utf8_json => v3_more_tc3(8);
    v1_on_api3_purge_sha1_post => v1_on_api3(0);
    v1_on_api3_push_sha256_get_token => v1_on_api3(1);
    v2_flush_get_sha1 => v2_case(0);
    v2_push_post_sha256 => v2_case(1);
    v2_oversea_refresh_post_sha1 => v2_case(2);
    v2_oversea_push_get_sha256 => v2_case(3);
    v2_flush_post_sha1 => v2_case(4);
    v2_more_refresh_get_sha1_cjk => v2_more(0);
    v2_more_oversea_refresh_12_urls_sort => v2_more(1);
    v2_more_flush_get_sha256_both => v2_more(2);
    v2_more_oversea_push_token_region => v2_more(3);
    v2_more_refresh_dir => v2_more(4);
    v2_more_refresh_log_dates => v2_more(5);
    teo_purge_url_raw_cjk_and_encoded => teo_case(0);
    teo_purge_prefix_invalidate => teo_case(1);
    teo_prefetch => teo_case(2);
    teo_describe_purge_tasks_window_filters => teo_case(3);
    teo_purge_url_token => teo_case(4);
    teo_describe_zones_intl_host => teo_case(5);
}

#[test]
fn vector_counts_are_all_covered() {
    // If the vector files grow, the list above must grow with them.
    assert_eq!(load("v3.json")["cases"].as_array().unwrap().len(), 6);
    assert_eq!(load("v3-more.json")["tc3_cases"].as_array().unwrap().len(), 9);
    assert_eq!(load("v3-more.json")["v1_on_api3_cases"].as_array().unwrap().len(), 2);
    assert_eq!(load("v2.json")["cases"].as_array().unwrap().len(), 5);
    assert_eq!(load("v2-more.json")["cases"].as_array().unwrap().len(), 6);
    assert_eq!(load("teo.json")["cases"].as_array().unwrap().len(), 6);
}

#[test]
fn doc_v1_cvm_describe_instances() {
    let c = &load("v3-more.json")["doc_known_answers"][0];
    let sig = v2::signature(s(c, "secret_key"), SignatureMethod::HmacSha1, s(c, "string_to_sign"));
    assert_eq!(sig, s(c, "signature"));
    assert_eq!(v2::form_encode(&sig), s(c, "url_encoded_signature"));
}

#[test]
fn doc_tc3_cvm_intermediates() {
    let c = &load("v3-more.json")["doc_known_answers"][1];
    let ts = c["timestamp"].as_i64().unwrap();
    let req = tc3::Tc3Request {
        method: "POST",
        query: "",
        content_type: s(c, "content_type"),
        host: "cvm.tencentcloudapi.com",
        payload: s(c, "payload").as_bytes(),
    };
    let canonical = tc3::canonical_request(&req);
    assert_eq!(canonical, s(c, "canonical_request"));
    assert_eq!(tc3::sha256_hex(canonical.as_bytes()), s(c, "canonical_request_sha256"));
    assert_eq!(tc3::string_to_sign(&canonical, ts, "cvm"), s(c, "string_to_sign"));
}

#[test]
fn doc_v2_cvm_sha256_sha1_and_underscore_keys() {
    let d = load("v2-more.json");
    let docs = d["doc_known_answers"].as_array().unwrap();
    for c in &docs[..2] {
        let params = pairs(&c["params"]);
        let sts = v2::string_to_sign("GET", "cvm.api.qcloud.com", "/v2/index.php", &params);
        assert_eq!(sts, s(c, "string_to_sign"));
        let m = if params.iter().any(|(k, v)| k == "SignatureMethod" && v == "HmacSHA256") {
            SignatureMethod::HmacSha256
        } else {
            SignatureMethod::HmacSha1
        };
        assert_eq!(v2::signature(s(c, "secret_key"), m, &sts), s(c, "signature"));
    }
    let u = &docs[2];
    let sts = v2::string_to_sign("GET", "cvm.api.qcloud.com", "/v2/index.php", &pairs(&u["params"]));
    assert_eq!(v2::signature(s(&docs[1], "secret_key"), SignatureMethod::HmacSha1, &sts), s(u, "signature"));
}
