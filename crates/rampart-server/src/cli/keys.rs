//! `rampart keys rotate-data-key`.

use std::process::ExitCode;

use super::{CliError, load, say, with_database};
use crate::{health_records, startup};

pub(super) async fn rotate_data_key() -> Result<ExitCode, CliError> {
    let settings = load().await?;
    let cipher = startup::field_cipher(&settings)?;
    let (rotated, total) = with_database(&settings, async |db| {
        health_records::routes::rotate(db, &cipher)
            .await
            .map_err(CliError::Message)
    })
    .await?;
    say(format_args!(
        "re-encrypted {rotated} of {total} health records under key v{}",
        cipher.current_version()
    ));
    Ok(ExitCode::SUCCESS)
}
