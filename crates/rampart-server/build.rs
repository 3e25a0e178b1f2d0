//! Build script of the server.

// The migrations are embedded by `sqlx::migrate!`; rebuild when one is
// added or changed (stable Rust cannot track the directory from the macro).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
