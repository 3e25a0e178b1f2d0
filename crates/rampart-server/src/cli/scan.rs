//! `rampart scan URL`.

use std::process::ExitCode;

use super::{CliError, say};
use crate::scanner;

pub(super) async fn run(url: String) -> Result<ExitCode, CliError> {
    let findings = scanner::scan(&url)
        .await
        .map_err(|e| CliError::Message(format!("scan of {url} failed: {e}")))?;
    for f in &findings {
        say(f);
    }
    let failed = findings.iter().filter(|f| !f.passed).count();
    say(format_args!(
        "{} passed, {failed} failed",
        findings.len() - failed
    ));
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
