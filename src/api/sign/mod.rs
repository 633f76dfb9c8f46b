//! Request signing, pure: data in, strings out. No HTTP client here.
//!
//! Pinned by Tencent's official SDK vectors (`tests/data/vectors/`), one test per vector.

pub mod tc3;
pub mod v2;
