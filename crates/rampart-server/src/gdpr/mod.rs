//! The data subject's rights: export (Art. 20) and erasure (Art. 17).

pub mod routes;
