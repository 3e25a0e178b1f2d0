//! Health records: encrypted at rest, each field shown only to the roles
//! that need it.

pub mod record;
pub mod routes;
pub mod store;
