//! The private directories Rampart creates (data, uploads, checkpoints).

/// Creates `dir` (and parents) readable only by the owner: it holds the
/// database, uploads and generated keys.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}
