//! Rampart's reference API: the domain, storage, routes and CLI, composed
//! from the `rampart` security layer.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod checkpoints;
pub mod checks;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod limits;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod payments;
pub mod private_dir;
pub mod retention;
pub mod routes;
pub mod scan;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
