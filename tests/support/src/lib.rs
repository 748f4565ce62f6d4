//! Test support shared by hookmesh's unit tests (`host/src`), integration
//! tests (`tests/`), benchmarks (`host/benches`) and the load tool
//! (`tests/load`), so production code never includes a test file:
//! - [`redis`]: private `redis-server` processes and clusters on free
//!   loopback ports;
//! - [`receiver`]: a real HTTP receiver that records requests and answers
//!   as told;
//! - [`local`]: a free loopback port, an executable on `PATH`;
//! - [`loopback`]: any actix-web app on a loopback listener, on its own
//!   thread (the receiver, the load tool's sink and relay);
//! - [`process`]: a `hookmesh serve` process, for crash tests and the load
//!   tool.
#![allow(clippy::unwrap_used)]

pub mod local;
pub mod loopback;
pub mod process;
pub mod receiver;
pub mod redis;
