//! A serde mirror of `cdnsync.toml`. Plain fields; `Spanned` where a later check needs the line.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub publish_dir: Option<S<String>>,
    pub state_dir: Option<S<String>>,
    #[serde(default)]
    pub exclude: Vec<S<String>>,
    pub credentials_file: Option<S<String>>,
    pub manifest_url: Option<S<String>>,
    pub provider: Option<RawProvider>,
    #[serde(default, rename = "domain")]
    pub domains: Vec<S<RawDomain>>,
    pub watch: Option<RawWatch>,
    pub limits: Option<RawLimits>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub api: Option<S<String>>,
    pub endpoint: Option<S<String>>,
    pub region: Option<S<String>>,
    pub timeout_secs: Option<S<i64>>,
    pub signature_method: Option<S<String>>,
    pub http_method: Option<S<String>>,
    pub v2_overseas: Option<S<String>>,
    pub v2_prefetch_delay_secs: Option<S<i64>>,
    pub site: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDomain {
    pub host: Option<S<String>>,
    pub scheme: Option<S<String>>,
    pub base_path: Option<S<String>>,
    pub include: Option<Vec<S<String>>>,
    #[serde(default)]
    pub exclude: Vec<S<String>>,
    pub areas: Option<S<Vec<S<String>>>>,
    pub index_files: Option<Vec<S<String>>>,
    pub index_aliases: Option<Vec<S<String>>>,
    pub purge_added: Option<bool>,
    #[serde(default)]
    pub prefetch: Vec<S<String>>,
    pub zone_id: Option<S<String>>,
    pub method: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    pub settle_ms: Option<S<i64>>,
    pub max_wait_ms: Option<S<i64>>,
    pub trigger_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub collapse: Option<S<String>>,
    pub concurrency: Option<S<i64>>,
    pub requests_per_second: Option<S<i64>>,
    pub purge_urls_batch: Option<S<i64>>,
    pub purge_paths_batch: Option<S<i64>>,
    pub prefetch_batch: Option<S<i64>>,
    pub retry_deadline_secs: Option<S<i64>>,
}
