//! Black-box tests: the real server on a random loopback port, spoken to
//! over HTTP. One test binary for all modules (faster to link).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

mod account_cache;
mod alerts;
mod audit;
mod cards;
mod cli;
mod conventions;
mod diagnostics;
mod files;
mod gdpr;
mod hardening;
mod hashing;
mod health;
mod health_records;
mod identity;
mod lockout;
mod orders;
mod payments;
mod ratelimit;
mod secrets;
mod several_instances;
mod shared_limits;
mod tokens;
mod users;
