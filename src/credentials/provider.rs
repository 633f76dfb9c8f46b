//! The seam the API clients will sign through: a [`CredentialProvider`] hands out the
//! credentials for the next request and is told when the API refused them. See the module doc
//! of [`crate::credentials`] for the calling pattern.
//!
//! - [`StaticProvider`]: long-term keys (environment, files); nothing to refresh.
//! - [`Refreshing`]: temporary credentials behind a [`Fetch`] (CVM role, STS, OIDC — the
//!   fetchers live in `api::roles`), refreshed as [`Refresher`] decides. One fetch at a time:
//!   concurrent requests wait for it rather than each asking the metadata service or STS.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::refresh::{Need, Refresher};
use super::{Credentials, CredentialsError};
use crate::clock::Clock;

/// The handle every API client holds (API 3.0, v2, EdgeOne): one provider shared by all their
/// requests, so that a refresh or an `invalidate()` seen by one is seen by all. Long-term keys
/// convert into it (`Credentials::into()` is a [`StaticProvider`]).
pub type SharedProvider = Arc<dyn CredentialProvider>;

impl From<Credentials> for SharedProvider {
    fn from(c: Credentials) -> Self {
        Arc::new(StaticProvider(c))
    }
}

impl From<StaticProvider> for SharedProvider {
    fn from(p: StaticProvider) -> Self {
        Arc::new(p)
    }
}

impl<F: Fetch + 'static> From<Refreshing<F>> for SharedProvider {
    fn from(p: Refreshing<F>) -> Self {
        Arc::new(p)
    }
}

/// The future of [`CredentialProvider::current`] and [`Fetch::fetch`].
pub type CredentialsFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials, CredentialsError>> + Send + 'a>>;

/// What an API client asks for credentials, per request.
pub trait CredentialProvider: Send + Sync {
    /// The credentials to sign the next request with.
    fn current(&self) -> CredentialsFuture<'_>;
    /// The API refused the last credentials (`AuthFailure.TokenFailure`, an expired signature):
    /// do not hand them out again.
    fn invalidate(&self);
}

/// Long-term keys: always the same, nothing to refresh.
#[derive(Clone, Debug)]
pub struct StaticProvider(pub Credentials);

impl CredentialProvider for StaticProvider {
    fn current(&self) -> CredentialsFuture<'_> {
        let c = self.0.clone();
        Box::pin(async move { Ok(c) })
    }

    /// A refused long-term key stays refused; there is nothing else to hand out.
    fn invalidate(&self) {}
}

/// Gets a fresh set of temporary credentials (with `expires_at` set).
pub trait Fetch: Send + Sync {
    /// Ask the metadata service or STS.
    fn fetch(&self) -> CredentialsFuture<'_>;
}

struct State {
    refresher: Refresher,
    cached: Option<Credentials>,
}

/// Temporary credentials, fetched again before they expire and after [`invalidate`](CredentialProvider::invalidate).
pub struct Refreshing<F> {
    fetch: F,
    clock: Arc<dyn Clock>,
    state: tokio::sync::Mutex<State>,
    invalidated: AtomicBool,
}

impl<F: Fetch> Refreshing<F> {
    /// Nothing fetched until the first [`current`](CredentialProvider::current).
    pub fn new(fetch: F, clock: Arc<dyn Clock>) -> Self {
        Refreshing {
            fetch,
            clock,
            state: tokio::sync::Mutex::new(State { refresher: Refresher::new(), cached: None }),
            invalidated: AtomicBool::new(false),
        }
    }

    async fn current_inner(&self) -> Result<Credentials, CredentialsError> {
        let mut st = self.state.lock().await;
        if self.invalidated.swap(false, Ordering::SeqCst) {
            st.refresher.invalidate();
            st.cached = None;
        }
        let now = self.clock.now_unix();
        let need = st.refresher.need(now);
        if need == Need::Cached {
            if let Some(c) = &st.cached {
                return Ok(c.clone());
            }
        }
        match self.fetch.fetch().await {
            Ok(c) => {
                if let Some(at) = c.expires_at.filter(|at| *at <= now) {
                    st.refresher.failed(now);
                    return Err(CredentialsError::StaleTemporary { source_name: c.source.to_string(), expires_at: at, now });
                }
                st.refresher.fetched(now, c.expires_at);
                st.cached = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                st.refresher.failed(now);
                match (&st.cached, need) {
                    (Some(c), Need::RefreshEarly) => {
                        tracing::warn!(
                            "could not refresh the credentials of {} ({e}); the current ones stay good for {}",
                            c.source,
                            super::human_duration(c.expires_at.unwrap_or(now) - now)
                        );
                        Ok(c.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }
}

impl<F: Fetch> CredentialProvider for Refreshing<F> {
    fn current(&self) -> CredentialsFuture<'_> {
        Box::pin(self.current_inner())
    }

    fn invalidate(&self) {
        self.invalidated.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::credentials::CredentialSource;

    const T0: i64 = 1_700_000_000;

    /// Hands out `AKIDtmp<n>…` credentials living `life` seconds, or fails while `down`.
    struct Counting {
        clock: ManualClock,
        n: AtomicU32,
        life: i64,
        down: Mutex<bool>,
    }

    impl Fetch for Counting {
        fn fetch(&self) -> CredentialsFuture<'_> {
            let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
            let down = *self.down.lock().unwrap();
            let now = self.clock.now_unix();
            let life = self.life;
            Box::pin(async move {
                if down {
                    return Err(CredentialsError::Metadata { url: "http://127.0.0.1/".into(), problem: "down".into() });
                }
                let mut c = Credentials::new(format!("AKIDtmp{n:08}"), format!("key{n}"), Some(format!("tok{n}")))
                    .from_source(CredentialSource::CvmRole { role: "r".into() });
                c.expires_at = Some(now + life);
                Ok(c)
            })
        }
    }

    fn provider(life: i64) -> (Arc<Refreshing<Counting>>, ManualClock) {
        let clock = ManualClock::new(T0 * 1000);
        let f = Counting { clock: clock.clone(), n: AtomicU32::new(0), life, down: Mutex::new(false) };
        (Arc::new(Refreshing::new(f, Arc::new(clock.clone()))), clock)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn fetches_once_then_refreshes_before_expiry_across_a_long_run() {
        let (p, clock) = provider(3600);
        rt().block_on(async {
            assert_eq!(p.current().await.unwrap().secret_id, "AKIDtmp00000001");
            assert_eq!(p.current().await.unwrap().secret_id, "AKIDtmp00000001");
            // A week of requests every minute: never an expired key, a fetch per ~55 minutes.
            for _ in 0..7 * 24 * 60 {
                clock.advance(Duration::from_secs(60));
                let c = p.current().await.unwrap();
                assert!(c.expires_at.unwrap() - clock.now_unix() >= 300, "signed with a key about to expire");
            }
            let fetches = p.fetch.n.load(Ordering::SeqCst);
            assert!((180..=190).contains(&fetches), "{fetches} fetches in a week of 1 h credentials");
        });
    }

    #[test]
    fn invalidate_fetches_anew_at_once() {
        let (p, _clock) = provider(3600);
        rt().block_on(async {
            p.current().await.unwrap();
            p.invalidate();
            assert_eq!(p.current().await.unwrap().secret_id, "AKIDtmp00000002");
            assert_eq!(p.current().await.unwrap().secret_id, "AKIDtmp00000002");
        });
    }

    #[test]
    fn a_failed_early_refresh_keeps_the_valid_credentials_an_expired_one_does_not() {
        let (p, clock) = provider(3600);
        rt().block_on(async {
            p.current().await.unwrap();
            *p.fetch.down.lock().unwrap() = true;
            clock.advance(Duration::from_secs(3600 - 300));
            assert_eq!(p.current().await.unwrap().secret_id, "AKIDtmp00000001", "still valid for 5 minutes");
            clock.advance(Duration::from_secs(300));
            let e = p.current().await.unwrap_err();
            assert!(matches!(e, CredentialsError::Metadata { .. }), "{e}");
            *p.fetch.down.lock().unwrap() = false;
            assert!(p.current().await.unwrap().secret_id.starts_with("AKIDtmp"));
        });
    }

    #[test]
    fn credentials_expired_on_arrival_are_an_error() {
        let (p, _clock) = provider(0);
        let e = rt().block_on(p.current()).unwrap_err();
        assert!(matches!(e, CredentialsError::StaleTemporary { .. }), "{e}");
        assert!(!e.to_string().contains("key1") && !e.to_string().contains("tok1"), "{e}");
    }

    #[test]
    fn static_keys_are_handed_out_as_they_are() {
        let p = StaticProvider(Credentials::new("AKIDstatic000001", "k", None));
        p.invalidate();
        assert_eq!(rt().block_on(p.current()).unwrap().secret_id, "AKIDstatic000001");
    }
}
