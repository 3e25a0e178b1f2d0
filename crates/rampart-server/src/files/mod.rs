//! Uploads: validated while streaming, stored outside the web root, served
//! to their owner only.

pub mod routes;
pub mod store;
