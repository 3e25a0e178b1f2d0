//! `rampart check`: the production audit of the configuration.

use std::process::ExitCode;

use super::{CliError, load, say};
use crate::config::checks;

pub(super) async fn run() -> Result<ExitCode, CliError> {
    let report = checks::production(&load().await?);
    say(&report);
    Ok(if report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
