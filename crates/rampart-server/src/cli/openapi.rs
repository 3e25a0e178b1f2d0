//! `rampart openapi`.

use std::process::ExitCode;

use super::{CliError, say};

pub(super) fn run() -> Result<ExitCode, CliError> {
    let json = serde_json::to_string_pretty(&crate::http::routes::document())
        .map_err(|e| CliError::Message(format!("cannot render the OpenAPI document: {e}")))?;
    say(json);
    Ok(ExitCode::SUCCESS)
}
