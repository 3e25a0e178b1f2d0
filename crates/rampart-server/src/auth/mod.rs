//! Sessions: registration, login with lockout, refresh rotation, logout,
//! password change, and the authenticator every protected route runs.

pub mod authenticator;
pub mod caller;
pub mod routes;
