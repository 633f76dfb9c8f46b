//! Tests of `api::roles`: requests byte for byte, replies as Tencent documents them, and no secret
//! in any error.

use super::*;

const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const ARN: &str = "qcs::cam::uin/100000000001:roleName/cdn-purger";

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn params() -> AssumeRole {
    AssumeRole { role_arn: ARN.into(), role_session_name: "cdnsync".into(), duration_secs: DEFAULT_DURATION_SECS }
}

#[test]
fn assume_role_is_tc3_signed_for_sts() {
    let base = Credentials::new(ID, KEY, None);
    let r = assume_role_request(&sts_endpoint(), &base, &params(), 1_551_113_065);
    assert_eq!(r.url, "https://sts.tencentcloudapi.com/");
    assert_eq!(
        r.body,
        br#"{"DurationSeconds":7200,"RoleArn":"qcs::cam::uin/100000000001:roleName/cdn-purger","RoleSessionName":"cdnsync"}"#
    );
    // Computed independently (Python hashlib/hmac, TC3 as Tencent documents it).
    assert_eq!(
        header(&r, "Authorization"),
        Some(
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/sts/tc3_request, \
             SignedHeaders=content-type;host, Signature=c3eb5823798610336ce7bff10c0d0b82a383a9a6f3445f342b9974e3c16137ea"
        )
    );
    for (k, v) in [
        ("X-TC-Action", "AssumeRole"),
        ("X-TC-Version", "2018-08-13"),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Timestamp", "1551113065"),
        ("Host", "sts.tencentcloudapi.com"),
        ("Content-Type", "application/json"),
    ] {
        assert_eq!(header(&r, k), Some(v), "{k}");
    }
    assert_eq!(header(&r, "X-TC-Token"), None);
    let with_token = Credentials::new(ID, KEY, Some("base-token".into()));
    let r = assume_role_request(&sts_endpoint(), &with_token, &params(), 1_551_113_065);
    assert_eq!(header(&r, "X-TC-Token"), Some("base-token"));
}

#[test]
fn web_identity_is_unsigned_and_carries_the_token_in_the_body() {
    let p = WebIdentity {
        region: "ap-shanghai".into(),
        provider_id: "tke-cls-1".into(),
        web_identity_token: Secret::new("eyJ.jwt.sig"),
        role_arn: ARN.into(),
        role_session_name: "cdnsync-1".into(),
        duration_secs: 7200,
    };
    let r = web_identity_request(&sts_endpoint(), &p, 1_700_000_000);
    assert_eq!(header(&r, "Authorization"), Some("SKIP"));
    assert_eq!(header(&r, "X-TC-Action"), Some("AssumeRoleWithWebIdentity"));
    assert_eq!(header(&r, "X-TC-Region"), Some("ap-shanghai"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"ProviderId": "tke-cls-1", "WebIdentityToken": "eyJ.jwt.sig", "RoleArn": ARN, "RoleSessionName": "cdnsync-1", "DurationSeconds": 7200})
    );
    assert!(!format!("{p:?}").contains("eyJ.jwt.sig"));
}

#[test]
fn sts_replies_as_documented() {
    let ok = br#"{"Response": {"Credentials": {"Token": "tok", "TmpSecretId": "AKIDtmp000000001", "TmpSecretKey": "tmpkey"},
        "ExpiredTime": 1543914376, "Expiration": "2018-12-04T09:06:16Z", "RequestId": "r"}}"#;
    let t = parse_sts(ASSUME_ROLE, 200, ok).unwrap();
    assert_eq!(
        (t.secret_id.as_str(), t.secret_key.expose(), t.token.expose(), t.expired_time),
        ("AKIDtmp000000001", "tmpkey", "tok", 1_543_914_376)
    );
    let c = t.into_credentials(CredentialSource::Oidc { role_arn: ARN.into() });
    assert_eq!(c.expires_at, Some(1_543_914_376));

    let refused = br#"{"Response": {"Error": {"Code": "InvalidParameter.AccountNotAvaliable", "Message": "no"}, "RequestId": "r1"}}"#;
    let e = parse_sts(ASSUME_ROLE, 200, refused).unwrap_err();
    assert!(matches!(&e, CredentialsError::Sts { code, .. } if code == "InvalidParameter.AccountNotAvaliable"), "{e}");
    assert!(e.to_string().contains("RequestId r1"), "{e}");

    // Half an answer, or a gateway page: say what is missing, never quote the body.
    let half = br#"{"Response": {"Credentials": {"Token": "tok", "TmpSecretKey": "tmpkey"}, "ExpiredTime": 1, "RequestId": "r"}}"#;
    let e = parse_sts(ASSUME_ROLE, 200, half).unwrap_err().to_string();
    assert!(e.contains("TmpSecretId") && !e.contains("tmpkey") && !e.contains("tok\""), "{e}");
    let e = parse_sts(ASSUME_ROLE, 502, b"<html>tmpkey</html>").unwrap_err().to_string();
    assert!(e.contains("HTTP 502") && !e.contains("tmpkey"), "{e}");
    let e = parse_sts(ASSUME_ROLE, 200, b"{\"tmpkey\"").unwrap_err().to_string();
    assert!(!e.contains("tmpkey"), "{e}");
}

#[test]
fn metadata_paths() {
    assert_eq!(metadata_role_url(METADATA_ENDPOINT), "http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/");
    assert_eq!(metadata_role_url("http://127.0.0.1:9/latest/meta-data"), "http://127.0.0.1:9/latest/meta-data/cam/security-credentials/");
    assert_eq!(
        metadata_credentials_url(METADATA_ENDPOINT, "web-purger").unwrap(),
        "http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/web-purger"
    );
    for bad in ["", "a/b", "..", "a?b", "a b", "名字"] {
        assert!(metadata_credentials_url(METADATA_ENDPOINT, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn metadata_role_name_answers() {
    let u = "http://127.0.0.1/x";
    assert_eq!(parse_role_name(u, 200, b"web-purger\n").unwrap(), "web-purger");
    assert!(parse_role_name(u, 404, b"").unwrap_err().to_string().contains("no CAM role is bound"));
    assert!(parse_role_name(u, 200, b"  \n").unwrap_err().to_string().contains("no CAM role is bound"));
    assert!(parse_role_name(u, 200, b"../../meta-data").is_err());
    assert!(parse_role_name(u, 500, b"web").unwrap_err().to_string().contains("HTTP 500"));
}

#[test]
fn metadata_credentials_answers_never_quoted() {
    let u = "http://127.0.0.1/x";
    let ok = br#"{"TmpSecretId": "AKIDtmp000000001", "TmpSecretKey": "tmpkey", "ExpiredTime": 1615590047,
        "Expiration": "2021-03-12T23:00:47Z", "Token": "tok", "Code": "Success"}"#;
    let t = parse_metadata_credentials(u, 200, ok).unwrap();
    assert_eq!(
        (t.secret_id.as_str(), t.secret_key.expose(), t.token.expose(), t.expired_time),
        ("AKIDtmp000000001", "tmpkey", "tok", 1_615_590_047)
    );
    for (status, body) in [
        (200, &br#"{"TmpSecretKey": "tmpkey", "Token": "tok", "Code": "Failed"}"#[..]),
        (200, br#"{"TmpSecretKey": "tmpkey", "Token": "tok", "ExpiredTime": 1, "Code": "Success"}"#),
        (200, br#"{"TmpSecretKey": "tmpkey", "Code": "tmpkey tok"}"#),
        (200, b"tmpkey tok"),
        (404, b"tmpkey tok"),
    ] {
        let e = parse_metadata_credentials(u, status, body).unwrap_err().to_string();
        assert!(!e.contains("tmpkey") && !e.contains("tok"), "{e}");
        assert!(e.contains(u), "{e}");
    }
    let e = parse_metadata_credentials(u, 200, br#"{"Code": "Failed"}"#).unwrap_err().to_string();
    assert!(e.contains("Code Failed"), "{e}");
}
