//! Payments: processor tokens in, the last four digits out; idempotent by
//! key; the processor boundary.

pub mod processor;
pub mod routes;
pub mod store;
