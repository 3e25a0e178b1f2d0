//! Orders and their search: object-level authorization made concrete.

pub mod routes;
pub mod store;
