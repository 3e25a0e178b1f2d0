//! `rampart migrate`.

use std::process::ExitCode;

use super::{CliError, load};
use crate::store::Database;

pub(super) async fn run() -> Result<ExitCode, CliError> {
    let db = Database::connect(&load().await?).await?;
    let result = db.migrate().await;
    db.close().await;
    result?;
    tracing::info!("migrations applied");
    Ok(ExitCode::SUCCESS)
}
