//! `rampart serve` (the default): development keys, the production gate,
//! then both listeners until SIGINT or SIGTERM.

use std::process::ExitCode;

use super::{CliError, load};
use crate::{
    config::{Environment, checks},
    startup,
};

pub(super) async fn run() -> Result<ExitCode, CliError> {
    let mut settings = load().await?;
    for warning in settings.ensure_development_keys()? {
        tracing::warn!("{warning}");
    }
    let report = checks::production(&settings);
    if settings.env == Environment::Production && report.has_failures() {
        for finding in report.findings() {
            tracing::error!(
                id = finding.id,
                advice = finding.advice,
                "{}",
                finding.message
            );
        }
        return Err(CliError::Message(format!(
            "refusing to start in production with failing checks:\n{report}"
        )));
    }
    let running = startup::start(settings, None).await?;
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
