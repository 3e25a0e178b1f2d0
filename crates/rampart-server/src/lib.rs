//! Rampart's reference API, composed from the `rampart` security layer.
//!
//! Resources are vertical slices (their routes, queries and types in one
//! folder); infrastructure is horizontal and named for what it is.
#![forbid(unsafe_code)]

// Resources.
pub mod audit;
pub mod auth;
pub mod diagnostics;
pub mod files;
pub mod gdpr;
pub mod health_records;
pub mod orders;
pub mod payments;
pub mod users;

// Infrastructure.
pub mod background;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod private_dir;
pub mod scanner;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
