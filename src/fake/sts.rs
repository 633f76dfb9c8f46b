//! A fake STS on 127.0.0.1: `AssumeRole` (TC3-signed, service `sts`, by known base keys) and
//! `AssumeRoleWithWebIdentity` (unsigned, a known provider and token), version 2018-08-13, with
//! the real error envelope. It checks what the real one checks where cdnsync depends on it (the
//! signature, a timestamp within 5 minutes, the role, the session name, the duration) and
//! records the temporary credentials it hands out, so a fake API can tell whether a request was
//! signed with live ones ([`check`]).

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::loopback::{Answer, Handler, Request, Server};
use crate::api::roles::{ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, MAX_DURATION_SECS, STS_SERVICE, STS_VERSION};
use crate::api::sign::tc3;
use crate::clock::{self, Clock};

/// Temporary credentials a fake handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// `AssumeRole`, `AssumeRoleWithWebIdentity` or `metadata`.
    pub action: &'static str,
    /// The role's ARN (STS) or name (metadata).
    pub role: String,
    /// `TmpSecretId`.
    pub secret_id: String,
    /// `TmpSecretKey`.
    pub secret_key: String,
    /// `Token`.
    pub token: String,
    /// `ExpiredTime`.
    pub expires_at: i64,
    /// The `RoleSessionName` asked for (empty for the metadata service).
    pub session_name: String,
}

/// Whether a request's credentials are good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Issued, and not expired at that time.
    Valid,
    /// Issued, but expired (the API answers `AuthFailure.TokenFailure`).
    Expired,
    /// Never issued, or the key or token does not match.
    Unknown,
}

/// Judge `secret_id` + `secret_key` + `token` at `now` against what was issued.
pub fn check(issued: &[Issued], secret_id: &str, secret_key: &str, token: &str, now: i64) -> TokenCheck {
    match issued.iter().find(|i| i.secret_id == secret_id && i.secret_key == secret_key && i.token == token) {
        Some(i) if now < i.expires_at => TokenCheck::Valid,
        Some(_) => TokenCheck::Expired,
        None => TokenCheck::Unknown,
    }
}

/// A handle on the credentials a fake STS or metadata service issued, so that a fake API
/// ([`crate::fake::FakeConfig::issuers`]) accepts them while they live and answers
/// `AuthFailure.TokenFailure` once they have expired.
#[derive(Clone)]
pub struct Issuer(Arc<Lookup>);

/// Finds issued credentials by SecretId.
type Lookup = dyn Fn(&str) -> Option<Issued> + Send + Sync;

impl Issuer {
    /// The credentials issued with this SecretId, if any.
    pub fn find(&self, secret_id: &str) -> Option<Issued> {
        (self.0)(secret_id)
    }

    pub(crate) fn of<S: Send + 'static>(state: Arc<Mutex<S>>, issued: fn(&S) -> &[Issued]) -> Issuer {
        Issuer(Arc::new(move |id| issued(&state.lock().expect("fake issuer")).iter().find(|i| i.secret_id == id).cloned()))
    }
}

/// End every credential in `issued` at `now` (the service revoked them early).
pub(crate) fn revoke(issued: &mut [Issued], now: i64) {
    for i in issued {
        i.expires_at = i.expires_at.min(now);
    }
}

/// Mint credentials number `n` for `role`, valid until `expires_at`.
pub(crate) fn mint(action: &'static str, role: &str, n: u64, expires_at: i64, rng: &mut fastrand::Rng) -> Issued {
    let noise: String = (0..16).map(|_| rng.alphanumeric()).collect();
    Issued {
        action,
        role: role.to_string(),
        secret_id: format!("AKIDtmp{n:010}{}", &noise[..8]),
        secret_key: format!("tmpkey{n}{noise}"),
        token: format!("tmptoken{n}{noise}{noise}"),
        expires_at,
        session_name: String::new(),
    }
}

/// What the fake STS accepts.
#[derive(Clone)]
pub struct StsConfig {
    /// The long-term SecretId allowed to call `AssumeRole`.
    pub secret_id: String,
    /// Its SecretKey.
    pub secret_key: String,
    /// ARNs that may be assumed.
    pub roles: Vec<String>,
    /// The OIDC provider of `AssumeRoleWithWebIdentity`.
    pub provider_id: String,
    /// The OIDC token it accepts.
    pub web_identity_token: String,
    /// Time for timestamps and expiry.
    pub clock: Arc<dyn Clock>,
}

struct State {
    cfg: StsConfig,
    issued: Vec<Issued>,
    calls: Vec<String>,
    fail_next: Vec<String>,
    rng: fastrand::Rng,
}

/// A running fake STS. Stops when dropped.
pub struct FakeSts {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeSts {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start(cfg: StsConfig) -> std::io::Result<FakeSts> {
        let state = Arc::new(Mutex::new(State {
            cfg,
            issued: Vec::new(),
            calls: Vec::new(),
            fail_next: Vec::new(),
            rng: fastrand::Rng::with_seed(7),
        }));
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| handle(&mut st.lock().expect("fake sts"), req));
        Ok(FakeSts { server: Server::start("fake-sts", handler)?, state })
    }

    /// `http://127.0.0.1:PORT`, for `[provider] sts_endpoint`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every credential handed out so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().expect("fake sts").issued.clone()
    }

    /// The actions called so far, refused ones included.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("fake sts").calls.clone()
    }

    /// Answer the next call with this error code.
    pub fn fail_next(&self, code: &str) {
        self.state.lock().expect("fake sts").fail_next.push(code.to_string());
    }

    /// Judge credentials at `now` against what this STS issued.
    pub fn check(&self, secret_id: &str, secret_key: &str, token: &str, now: i64) -> TokenCheck {
        check(&self.state.lock().expect("fake sts").issued, secret_id, secret_key, token, now)
    }

    /// What a fake API needs to accept these credentials.
    pub fn issuer(&self) -> Issuer {
        Issuer::of(self.state.clone(), |s: &State| &s.issued)
    }

    /// Make every credential issued so far expire now (a client still holding them is refused).
    pub fn revoke_all(&self) {
        let mut st = self.state.lock().expect("fake sts");
        let now = st.cfg.clock.now_unix();
        revoke(&mut st.issued, now);
    }
}

fn error(code: &str, message: &str) -> Answer {
    Answer::json(200, &json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake-sts"}}))
}

fn session_name_ok(s: &str) -> bool {
    (2..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

fn handle(st: &mut State, req: &Request) -> Answer {
    let action = req.header("x-tc-action").unwrap_or("").to_string();
    st.calls.push(action.clone());
    if req.method != "POST" || req.path != "/" {
        return Answer::text(404, "not found");
    }
    if !st.fail_next.is_empty() {
        let code = st.fail_next.remove(0);
        return error(&code, "injected");
    }
    if req.header("x-tc-version") != Some(STS_VERSION) {
        return error("NoSuchVersion", "STS is version 2018-08-13");
    }
    let now = st.cfg.clock.now_unix();
    let ts: i64 = req.header("x-tc-timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
    if (now - ts).abs() > 300 {
        return error("AuthFailure.SignatureExpire", "timestamp more than 5 minutes off");
    }
    if req.header("x-tc-region").is_none_or(str::is_empty) {
        return error("MissingParameter", "X-TC-Region is required");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else { return error("InvalidParameter", "body is not JSON") };
    let auth = req.header("authorization").unwrap_or("");
    match action.as_str() {
        ASSUME_ROLE => {
            let Some(parsed) = tc3::parse_authorization(auth) else {
                return error("AuthFailure.InvalidAuthorization", "bad Authorization");
            };
            if parsed.secret_id != st.cfg.secret_id {
                return error("AuthFailure.SecretIdNotFound", "unknown SecretId");
            }
            let r = tc3::Tc3Request {
                method: "POST",
                query: "",
                content_type: req.header("content-type").unwrap_or(""),
                host: req.header("host").unwrap_or(""),
                payload: &req.body,
            };
            if parsed.service != STS_SERVICE || tc3::sign(&r, &st.cfg.secret_id, &st.cfg.secret_key, ts, STS_SERVICE) != auth {
                return error("AuthFailure.SignatureFailure", "signature mismatch");
            }
        }
        ASSUME_ROLE_WITH_WEB_IDENTITY => {
            if auth != "SKIP" {
                return error("AuthFailure.InvalidAuthorization", "AssumeRoleWithWebIdentity is not signed");
            }
            if body["ProviderId"].as_str() != Some(st.cfg.provider_id.as_str()) {
                return error("InvalidParameter.ParamError", "unknown ProviderId");
            }
            if body["WebIdentityToken"].as_str() != Some(st.cfg.web_identity_token.as_str()) {
                return error("InvalidParameter.WebIdentityTokenError", "WebIdentityToken refused");
            }
        }
        _ => return error("InvalidAction", "unknown action"),
    }
    let role = body["RoleArn"].as_str().unwrap_or("");
    if !st.cfg.roles.iter().any(|r| r == role) {
        return error("InvalidParameter.RoleNotExist", "no such role");
    }
    if !body["RoleSessionName"].as_str().is_some_and(session_name_ok) {
        return error("InvalidParameter.ParamError", "RoleSessionName must be 2-128 of [\\w+=,.@-]");
    }
    let duration = body["DurationSeconds"].as_i64().unwrap_or(7200);
    if !(1..=MAX_DURATION_SECS as i64).contains(&duration) {
        return error("InvalidParameter.ParamError", "DurationSeconds must be 1..43200");
    }
    let action = if action == ASSUME_ROLE { ASSUME_ROLE } else { ASSUME_ROLE_WITH_WEB_IDENTITY };
    let n = st.issued.len() as u64 + 1;
    let mut i = mint(action, role, n, now + duration, &mut st.rng);
    i.session_name = body["RoleSessionName"].as_str().unwrap_or("").to_string();
    st.issued.push(i.clone());
    Answer::json(
        200,
        &json!({"Response": {
            "Credentials": {"Token": i.token, "TmpSecretId": i.secret_id, "TmpSecretKey": i.secret_key},
            "ExpiredTime": i.expires_at,
            "Expiration": format!("{}Z", clock::datetime(i.expires_at, 0).replace(' ', "T")),
            "RequestId": format!("fake-sts-{n}"),
        }}),
    )
}
