//! `rampart retention purge`.

use std::process::ExitCode;

use super::{CliError, load, say, with_database};
use crate::audit::{
    checkpoints::Checkpoints,
    retention::{self, Purged},
};

pub(super) async fn purge() -> Result<ExitCode, CliError> {
    let settings = load().await?;
    let checkpoints = Checkpoints::open(&settings)?;
    let purged = with_database(&settings, async |db| {
        Ok(retention::purge(db, &checkpoints, settings.audit.retention_days).await?)
    })
    .await?;
    match purged {
        Purged::Through {
            seq,
            removed,
            cutoff,
        } => say(format_args!(
            "purged {removed} audit entries through seq {seq} (older than {cutoff})"
        )),
        Purged::Nothing { cutoff } => say(format_args!(
            "nothing older than {cutoff} (and covered by a signed checkpoint) to purge"
        )),
    }
    Ok(ExitCode::SUCCESS)
}
