//! Shared support for integration tests. Each test binary uses a different part of it.
#![allow(dead_code)]

pub mod fake_server;

pub mod coach_harness;
