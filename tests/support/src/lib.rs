//! Test support shared by hookmesh's unit tests (`host/src`), integration
//! tests (`tests/`) and benchmarks (`host/benches`), so production code
//! never includes a test file: [`redis`] runs private `redis-server`
//! processes and clusters on free loopback ports.
#![allow(clippy::unwrap_used)]

pub mod redis;
