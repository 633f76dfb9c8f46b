//! Signing through a [`CredentialProvider`], the same way in every client (API 3.0, v2, and
//! EdgeOne's `teo`): [`with_credentials`] asks the provider for the credentials of each request
//! and, when the API refuses them as stale (the client says which answers mean that), tells the
//! provider to drop them and sends once more with fresh ones.
//!
//! The second attempt is made only when the fresh credentials differ from the refused ones: a
//! long-term key that was refused stays refused, and asking again would only spend a request.
//! A refused request did nothing, so sending it again cannot purge anything twice.

use std::future::Future;

use super::Failure;
use crate::credentials::{CredentialProvider, Credentials};

/// The provider's credentials, or a [`Failure::Credentials`] (nothing was sent).
pub async fn current(provider: &dyn CredentialProvider) -> Result<Credentials, Failure> {
    provider.current().await.map_err(|e| Failure::Credentials { message: e.to_string() })
}

/// Run `attempt` with the provider's credentials; if its failure is `stale`, invalidate them and
/// run it once more with fresh ones (when there are fresh ones).
pub async fn with_credentials<T, F, Fut>(
    provider: &dyn CredentialProvider,
    stale: fn(&Failure) -> bool,
    mut attempt: F,
) -> Result<T, Failure>
where
    F: FnMut(Credentials) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let used = current(provider).await?;
    let (source, id, token) = (used.source.clone(), used.secret_id.clone(), used.token.clone());
    match attempt(used).await {
        Err(f) if stale(&f) => {
            provider.invalidate();
            let fresh = current(provider).await?;
            if fresh.secret_id == id && fresh.token == token {
                return Err(f);
            }
            tracing::info!("the API refused the credentials of {source} ({f}); sending once more with fresh ones");
            attempt(fresh).await
        }
        other => other,
    }
}

/// API 3.0 (and other TC3 APIs): the session token expired or was revoked, or the signature is
/// too old.
pub fn stale_v3(f: &Failure) -> bool {
    matches!(f, Failure::Api(e) if e.code == "AuthFailure.TokenFailure" || e.code == "AuthFailure.SignatureExpire")
}

/// The legacy API: its authentication failures (4100–4104, 4110) do not say whether the token
/// expired, so any of them gets one more try when fresh credentials exist.
pub fn stale_v2(f: &Failure) -> bool {
    matches!(f, Failure::Api(e) if matches!(e.code.as_str(), "4100" | "4101" | "4102" | "4103" | "4104" | "4110"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::api::ApiError;
    use crate::clock::ManualClock;
    use crate::credentials::provider::{CredentialsFuture, Fetch, Refreshing, StaticProvider};
    use crate::credentials::CredentialsError;

    fn api(code: &str) -> Failure {
        Failure::Api(ApiError { api: crate::model::Api::V3, code: code.into(), message: "m".into(), request_id: None, code_desc: None })
    }

    /// Temporary credentials numbered from 1; fails while `down` is set.
    struct Numbered(AtomicU32, std::sync::atomic::AtomicBool);

    impl Fetch for Numbered {
        fn fetch(&self) -> CredentialsFuture<'_> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            let down = self.1.load(Ordering::SeqCst);
            Box::pin(async move {
                if down {
                    return Err(CredentialsError::Metadata { url: "http://127.0.0.1/".into(), problem: "down".into() });
                }
                let mut c = Credentials::new(format!("AKIDtmp{n:08}"), format!("key{n}"), Some(format!("tok{n}")));
                c.expires_at = Some(i64::MAX / 2);
                Ok(c)
            })
        }
    }

    fn refreshing() -> Refreshing<Numbered> {
        Refreshing::new(Numbered(AtomicU32::new(0), false.into()), Arc::new(ManualClock::new(0)))
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn a_stale_answer_is_retried_once_with_fresh_credentials() {
        let p = refreshing();
        let seen = std::sync::Mutex::new(Vec::new());
        let r = rt().block_on(with_credentials(&p, stale_v3, |c| {
            seen.lock().unwrap().push(c.secret_id.clone());
            let n = seen.lock().unwrap().len();
            async move {
                if n == 1 {
                    Err(api("AuthFailure.TokenFailure"))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(r, Ok(2));
        assert_eq!(*seen.lock().unwrap(), ["AKIDtmp00000001", "AKIDtmp00000002"]);
    }

    #[test]
    fn only_once_and_only_for_stale_answers() {
        let p = refreshing();
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = rt().block_on(with_credentials(&p, stale_v3, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(api("AuthFailure.TokenFailure")) }
        }));
        assert_eq!(r, Err(api("AuthFailure.TokenFailure")));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one retry, not a loop");
        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> = rt().block_on(with_credentials(&p, stale_v3, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(api("AuthFailure.SignatureFailure")) }
        }));
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a wrong key is not a stale one");
    }

    #[test]
    fn long_term_keys_are_not_sent_twice() {
        let p = StaticProvider(Credentials::new("AKIDstatic000001", "k", None));
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = rt().block_on(with_credentials(&p, stale_v2, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(api("4100")) }
        }));
        assert_eq!(r, Err(api("4100")));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the same key would be refused again");
    }

    #[test]
    fn credentials_that_cannot_be_fetched_send_nothing_and_stay_owed() {
        let p = Refreshing::new(Numbered(AtomicU32::new(0), true.into()), Arc::new(ManualClock::new(0)));
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = rt().block_on(with_credentials(&p, stale_v3, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        }));
        let f = r.unwrap_err();
        assert!(matches!(&f, Failure::Credentials { message } if message.contains("down")), "{f}");
        assert_eq!(f.class(), super::super::Class::Transient);
        assert_eq!(f.to_job_error().code, "Credentials");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn stale_codes() {
        assert!(stale_v3(&api("AuthFailure.TokenFailure")) && stale_v3(&api("AuthFailure.SignatureExpire")));
        assert!(!stale_v3(&api("AuthFailure.SecretIdNotFound")) && !stale_v3(&api("4100")));
        assert!(stale_v2(&api("4100")) && stale_v2(&api("4104")) && stale_v2(&api("4110")));
        assert!(!stale_v2(&api("4200")) && !stale_v2(&api("4000")));
    }
}
