//! A fake CVM instance metadata service on 127.0.0.1, at `/latest/meta-data/`:
//! `cam/security-credentials/` names the bound role (404 when none is bound) and
//! `cam/security-credentials/<role>` hands out `TmpSecretId`, `TmpSecretKey`, `Token`,
//! `ExpiredTime`, `Expiration` and `Code: "Success"`. Like the real one it keeps handing out the
//! same credentials until they are half-way through their life, then new ones, so a client that
//! refreshes early gets fresh ones and one that never refreshes ends with expired ones.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::loopback::{Answer, Handler, Request, Server};
use super::sts::{check, mint, revoke, Issued, Issuer, TokenCheck};
use crate::api::roles::ROLE_PATH;
use crate::clock::{self, Clock};

/// The metadata path prefix.
pub const BASE_PATH: &str = "/latest/meta-data/";

/// What the fake instance has.
#[derive(Clone)]
pub struct MetadataConfig {
    /// The bound CAM role (`None`: no role bound).
    pub role: Option<String>,
    /// How long each set of credentials lives (seconds).
    pub lifetime_secs: i64,
    /// Time for expiry.
    pub clock: Arc<dyn Clock>,
}

struct State {
    cfg: MetadataConfig,
    issued: Vec<Issued>,
    requests: Vec<String>,
    rng: fastrand::Rng,
}

/// A running fake metadata service. Stops when dropped.
pub struct FakeMetadata {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl FakeMetadata {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start(cfg: MetadataConfig) -> std::io::Result<FakeMetadata> {
        let state = Arc::new(Mutex::new(State { cfg, issued: Vec::new(), requests: Vec::new(), rng: fastrand::Rng::with_seed(11) }));
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| handle(&mut st.lock().expect("fake metadata"), req));
        Ok(FakeMetadata { server: Server::start("fake-metadata", handler)?, state })
    }

    /// `http://127.0.0.1:PORT/latest/meta-data/`, for `[provider] metadata_endpoint`.
    pub fn url(&self) -> String {
        format!("{}{BASE_PATH}", self.server.url())
    }

    /// Every credential handed out so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().expect("fake metadata").issued.clone()
    }

    /// Paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().expect("fake metadata").requests.clone()
    }

    /// Bind another role, or none.
    pub fn set_role(&self, role: Option<&str>) {
        self.state.lock().expect("fake metadata").cfg.role = role.map(str::to_string);
    }

    /// Judge credentials at `now` against what this service issued.
    pub fn check(&self, secret_id: &str, secret_key: &str, token: &str, now: i64) -> TokenCheck {
        check(&self.state.lock().expect("fake metadata").issued, secret_id, secret_key, token, now)
    }

    /// What a fake API needs to accept these credentials.
    pub fn issuer(&self) -> Issuer {
        Issuer::of(self.state.clone(), |s: &State| &s.issued)
    }

    /// Make every credential handed out so far expire now (the next request gets new ones; a
    /// client still holding the old ones is refused).
    pub fn revoke_all(&self) {
        let mut st = self.state.lock().expect("fake metadata");
        let now = st.cfg.clock.now_unix();
        revoke(&mut st.issued, now);
    }
}

fn handle(st: &mut State, req: &Request) -> Answer {
    st.requests.push(req.path.clone());
    let Some(rest) = req.path.strip_prefix(BASE_PATH).and_then(|p| p.strip_prefix(ROLE_PATH)) else {
        return Answer::text(404, "not found");
    };
    if req.method != "GET" {
        return Answer::text(405, "method not allowed");
    }
    let Some(role) = st.cfg.role.clone() else { return Answer::text(404, "not found") };
    if rest.is_empty() {
        return Answer::text(200, &role);
    }
    if rest != role {
        return Answer::text(404, "not found");
    }
    let now = st.cfg.clock.now_unix();
    let life = st.cfg.lifetime_secs;
    let current = st.issued.last().filter(|i| i.role == role && i.expires_at - now > life / 2).cloned();
    let i = match current {
        Some(i) => i,
        None => {
            let n = st.issued.len() as u64 + 1;
            let i = mint("metadata", &role, n, now + life, &mut st.rng);
            st.issued.push(i.clone());
            i
        }
    };
    Answer::json(
        200,
        &json!({
            "TmpSecretId": i.secret_id,
            "TmpSecretKey": i.secret_key,
            "ExpiredTime": i.expires_at,
            "Expiration": format!("{}Z", clock::datetime(i.expires_at, 0).replace(' ', "T")),
            "Token": i.token,
            "Code": "Success",
        }),
    )
}
