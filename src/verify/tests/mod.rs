//! Tests of verify and the origin wait: verdict tables, the runner's traffic shape against a fake
//! fetcher, and the real fetcher against the fake edge on 127.0.0.1.

mod classify;
mod http;
mod origin;
mod runner;
