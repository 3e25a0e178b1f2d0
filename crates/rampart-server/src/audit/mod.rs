//! The security audit trail: how an event is recorded (in the change's own
//! transaction or by group commit), the hash chain's storage, the signed
//! checkpoints, retention, the alerts on violations, and the admin routes
//! that read and verify it.

pub mod alerts;
pub mod auditor;
pub mod checkpoints;
pub mod events;
pub mod retention;
pub mod routes;
pub mod store;
pub mod writer;
