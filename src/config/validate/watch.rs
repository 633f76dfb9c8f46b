//! `[watch]`: how `cdnsync watch` groups changes into syncs.

use std::time::Duration;

use super::Validator;
use crate::config::raw::RawWatch;
use crate::config::types::Watch;

pub(super) fn watch(v: &mut Validator, r: &RawWatch) -> Watch {
    let mut w = Watch::default();
    if let Some(ms) = v.int(&r.settle_ms, "watch.settle_ms", 10, 3_600_000, "") {
        w.settle = Duration::from_millis(ms as u64);
    }
    if let Some(ms) = v.int(&r.max_wait_ms, "watch.max_wait_ms", 10, 86_400_000, "") {
        w.max_wait = Duration::from_millis(ms as u64);
        if w.max_wait < w.settle {
            let at = r.max_wait_ms.as_ref().and_then(|m| m.at());
            v.err(at, "watch.max_wait_ms", format!("expected at least settle_ms ({} ms), found {ms}", w.settle.as_millis()));
        }
    }
    if let Some(t) = v.get(&r.trigger_file, "watch.trigger_file") {
        let s = t.v.trim_start_matches("./");
        if s.is_empty() || s.starts_with('/') || s.split('/').any(|c| c == "..") {
            v.err(t.at, "watch.trigger_file", format!("expected a path inside publish_dir such as \".deployed\", found {:?}", t.v));
        } else {
            w.trigger_file = Some(s.to_string());
        }
    }
    if let Some(m) = v.get(&r.metrics, "watch.metrics") {
        match crate::config::verify::socket_addr(m.v) {
            Ok(addr) => w.metrics = Some(addr),
            Err(msg) => v.err(m.at, "watch.metrics", msg),
        }
    }
    w
}
