//! The [`SharedProvider`] a config asks for (`[provider] credentials`, `docs/credentials.md`):
//!
//! | `credentials` | what the chain or the config gives | provider |
//! | --- | --- | --- |
//! | `auto` | keys | [`StaticProvider`] |
//! | `auto` | a tccli profile with `role-arn` | [`Refreshing`] [`AssumeRoleFetch`] with its keys |
//! | `auto` | a tccli profile of type `cvm-role` | [`Refreshing`] [`CvmRoleFetch`] |
//! | `cvm_role` | (the chain is not walked) | [`Refreshing`] [`CvmRoleFetch`] |
//! | `role` | keys, and `role_arn` from the config or the profile | [`Refreshing`] [`AssumeRoleFetch`] |
//! | `oidc` | the `TKE_*` environment | [`Refreshing`] [`OidcFetch`] |
//!
//! Nothing is fetched here: the first request (or `status`) does. It lives in `api` rather than
//! in `credentials` because the fetchers speak Tencent's wire formats (`api::roles`).

use std::path::Path;
use std::sync::Arc;

use super::http::Transport;
use super::roles::{self, AssumeRole, AssumeRoleFetch, CvmRoleFetch, OidcFetch};
use crate::clock::Clock;
use crate::config::{CredentialSettings, CredentialsMode, Endpoint};
use crate::credentials::oidc::TkeOidc;
use crate::credentials::provider::Refreshing;
use crate::credentials::{find, CredentialsError, Found, SharedProvider, Sources, StaticProvider, Warning};

/// The session name when neither the config nor the profile gives one.
pub const DEFAULT_SESSION_NAME: &str = "cdnsync";

/// A provider, and what was worth a warning on the way (files others can read, quoted values).
pub struct Resolved {
    /// What the API clients sign with.
    pub provider: SharedProvider,
    /// To show the user; never a secret.
    pub warnings: Vec<Warning>,
}

/// Build the provider for `settings`, reading the chain from `src` (`credentials_file` is the
/// config's, made absolute). `transport` carries the metadata and STS requests; `clock` times
/// their refresh.
pub fn provider_for(
    settings: &CredentialSettings,
    credentials_file: Option<&Path>,
    src: &Sources,
    transport: Transport,
    clock: Arc<dyn Clock>,
) -> Result<Resolved, CredentialsError> {
    let cvm = |transport: Transport, clock: Arc<dyn Clock>| -> SharedProvider {
        let base = settings.metadata_endpoint.as_ref().map_or_else(|| roles::METADATA_ENDPOINT.to_string(), Endpoint::url);
        Refreshing::new(CvmRoleFetch { transport, base, role: settings.cvm_role_name.clone() }, clock).into()
    };
    let sts = settings.sts_endpoint.clone().unwrap_or_else(roles::sts_endpoint);
    let duration_secs = settings.role_duration_secs.unwrap_or(roles::DEFAULT_DURATION_SECS);
    match settings.mode {
        CredentialsMode::CvmRole => Ok(Resolved { provider: cvm(transport, clock), warnings: Vec::new() }),
        CredentialsMode::Oidc => {
            let tke = TkeOidc::from_env(src.env)?;
            let fetch = OidcFetch {
                transport,
                endpoint: sts,
                tke,
                duration_secs,
                session_name: settings.role_session_name.clone(),
                clock: clock.clone(),
            };
            Ok(Resolved { provider: Refreshing::new(fetch, clock).into(), warnings: Vec::new() })
        }
        CredentialsMode::Auto | CredentialsMode::Role => {
            let r = find(src, credentials_file)?;
            let warnings = r.warnings;
            let assume = |base, arn: String, profile_session: Option<String>| -> SharedProvider {
                let role_session_name =
                    settings.role_session_name.clone().or(profile_session).unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string());
                let params = AssumeRole { role_arn: arn, role_session_name, duration_secs };
                let fetch = AssumeRoleFetch { transport: transport.clone(), endpoint: sts.clone(), base, params, clock: clock.clone() };
                Refreshing::new(fetch, clock.clone()).into()
            };
            let provider = match (settings.mode, r.found) {
                (CredentialsMode::Auto, Found::Keys(c)) => StaticProvider(c).into(),
                (_, Found::AssumeRole(req)) => {
                    let arn = settings.role_arn.clone().unwrap_or(req.role_arn);
                    assume(req.base, arn, req.role_session_name)
                }
                (CredentialsMode::Auto, Found::CvmRole { .. }) => cvm(transport.clone(), clock.clone()),
                (_, Found::Keys(c)) => match (settings.role_arn.clone(), r.sdk_role) {
                    (Some(arn), sdk) => assume(c, arn, sdk.and_then(|(_, s)| s)),
                    (None, Some((arn, session))) => assume(c, arn, session),
                    (None, None) => return Err(CredentialsError::NoRoleArn { source_name: c.source.to_string() }),
                },
                (_, Found::CvmRole { source }) => return Err(CredentialsError::NoKeysForRole { source_name: source.to_string() }),
            };
            Ok(Resolved { provider, warnings })
        }
    }
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod tests;
