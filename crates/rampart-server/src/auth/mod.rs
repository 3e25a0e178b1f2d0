//! Sessions: registration, login with lockout, refresh rotation, logout,
//! password change, and the authenticator every protected route runs.

pub mod routes;
