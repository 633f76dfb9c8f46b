//! A serde mirror of `cdnsync.toml`: one field per key, one struct per table.
//!
//! Every field is `Option<Val<T>>` (or `Option<List<T>>`): absent, or a value with its position
//! and either the value or its type error, so one wrong key never stops the parse. Unknown keys
//! are found by `keys.rs` from these structs' fields (no `deny_unknown_fields`). A new key is a
//! new field here; `tests/docs.rs` reads this file to check that every key is documented.

use serde::Deserialize;

use super::val::{List, Val};

#[derive(Debug, Deserialize)]
pub struct RawConfig {
    pub publish_dir: Option<Val<String>>,
    pub state_dir: Option<Val<String>>,
    pub exclude: Option<List<String>>,
    pub credentials_file: Option<Val<String>>,
    pub manifest_url: Option<Val<String>>,
    pub if_no_state: Option<Val<String>>,
    pub symlinks: Option<Val<String>>,
    pub provider: Option<Val<RawProvider>>,
    #[serde(rename = "domain")]
    pub domains: Option<List<RawDomain>>,
    pub watch: Option<Val<RawWatch>>,
    pub limits: Option<Val<RawLimits>>,
    pub verify: Option<Val<RawVerify>>,
    pub fleet: Option<Val<RawFleet>>,
}

#[derive(Debug, Deserialize)]
pub struct RawProvider {
    pub api: Option<Val<String>>,
    pub endpoint: Option<Val<String>>,
    pub allow_plain_http: Option<Val<bool>>,
    pub region: Option<Val<String>>,
    pub timeout_secs: Option<Val<i64>>,
    pub signature_method: Option<Val<String>>,
    pub http_method: Option<Val<String>>,
    pub v2_overseas: Option<Val<String>>,
    pub v2_prefetch_delay_secs: Option<Val<i64>>,
    pub credentials: Option<Val<String>>,
    pub cvm_role_name: Option<Val<String>>,
    pub role_arn: Option<Val<String>>,
    pub role_session_name: Option<Val<String>>,
    pub role_duration_secs: Option<Val<i64>>,
    pub metadata_endpoint: Option<Val<String>>,
    pub sts_endpoint: Option<Val<String>>,
    pub site: Option<Val<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawDomain {
    pub host: Option<Val<String>>,
    pub scheme: Option<Val<String>>,
    pub base_path: Option<Val<String>>,
    pub include: Option<List<String>>,
    pub exclude: Option<List<String>>,
    pub areas: Option<List<String>>,
    pub index_files: Option<List<String>>,
    pub index_aliases: Option<List<String>>,
    pub purge_added: Option<Val<bool>>,
    pub prefetch: Option<List<String>>,
    pub zone_id: Option<Val<String>>,
    pub method: Option<Val<String>>,
    pub origin: Option<Val<String>>,
    pub origin_wait_secs: Option<Val<i64>>,
    pub verify: Option<Val<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawWatch {
    pub settle_ms: Option<Val<i64>>,
    pub max_wait_ms: Option<Val<i64>>,
    pub trigger_file: Option<Val<String>>,
    pub metrics: Option<Val<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawLimits {
    pub collapse: Option<Val<String>>,
    pub concurrency: Option<Val<i64>>,
    pub requests_per_second: Option<Val<i64>>,
    pub purge_urls_batch: Option<Val<i64>>,
    pub purge_paths_batch: Option<Val<i64>>,
    pub prefetch_batch: Option<Val<i64>>,
    pub retry_deadline_secs: Option<Val<i64>>,
    pub max_root_purges_per_day: Option<Val<i64>>,
    pub max_files: Option<Val<i64>>,
}

#[derive(Debug, Deserialize)]
pub struct RawVerify {
    pub concurrency: Option<Val<i64>>,
    pub requests_per_second: Option<Val<i64>>,
    pub connect_to: Option<Val<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RawFleet {
    pub redis: Option<Val<String>>,
    pub group: Option<Val<String>>,
    pub member: Option<Val<String>>,
    pub barrier_timeout_secs: Option<Val<i64>>,
    pub lease_secs: Option<Val<i64>>,
    pub heartbeat_ttl_secs: Option<Val<i64>>,
    pub key_prefix: Option<Val<String>>,
    pub tls_ca: Option<Val<String>>,
}

#[cfg(test)]
mod tests {
    /// A field that is not `Option<Val<…>>` or `Option<List<…>>` would turn a type error in that
    /// key back into the end of the parse, hiding every other error.
    #[test]
    fn every_field_catches_its_own_type_error() {
        let text = include_str!("raw.rs");
        let fields: Vec<&str> = text
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .filter_map(|l| l.strip_prefix("pub ").filter(|r| !r.starts_with("struct")))
            .collect();
        assert!(fields.len() >= 30, "{fields:?}");
        for f in fields {
            let ty = f.split_once(':').map(|(_, t)| t.trim()).unwrap_or_default();
            assert!(
                ty.starts_with("Option<Val<") || ty.starts_with("Option<List<"),
                "raw.rs: `{f}` must be Option<Val<…>> or Option<List<…>>"
            );
        }
    }
}
