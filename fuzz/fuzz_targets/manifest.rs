//! The manifest decoder (a manifest can be fetched over HTTP with `manifest_url`) on any bytes:
//! it may refuse them, never panic; and whatever it accepts encodes back to the same bytes, so it
//! accepted nothing cdnsync would not have written. Each input is tried as it is and sealed with
//! a valid checksum trailer, so that the fuzzer reaches the entries behind the checksum.
#![no_main]

use std::path::Path;

use cdnsync::internals::manifest::{decode, encode};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    if let Ok(m) = decode(bytes, Path::new("fuzz")) {
        assert_eq!(encode(&m), bytes, "accepted bytes cdnsync would not write");
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut sealed = b"cdnsync-manifest 2\n".to_vec();
    sealed.extend_from_slice(data);
    let sum = blake3::hash(&sealed);
    sealed.extend_from_slice(b"end");
    sealed.extend_from_slice(sum.as_bytes());
    check(&sealed);
});
