//! Accounts: profiles, the admin's role changes, and their storage.

pub mod routes;
pub mod store;
