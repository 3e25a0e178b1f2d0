//! `rampart audit verify`.

use std::process::ExitCode;

use super::{CliError, load, say, with_database};
use crate::audit::checkpoints::Checkpoints;

pub(super) async fn verify() -> Result<ExitCode, CliError> {
    let settings = load().await?;
    let checkpoints = Checkpoints::open(&settings)?;
    let (v, warnings) = with_database(&settings, async |db| {
        Ok(checkpoints.verify_reporting(db).await?)
    })
    .await?;
    for w in warnings {
        say(format_args!("warning: {w}"));
    }
    if v.ok {
        say(format_args!("audit chain ok: {} entries", v.entries));
        Ok(ExitCode::SUCCESS)
    } else {
        let seq = v
            .first_bad_seq
            .map_or_else(|| "?".to_owned(), |s| s.to_string());
        say(format_args!(
            "audit chain BROKEN at seq {seq} ({} entries examined)",
            v.entries
        ));
        Ok(ExitCode::FAILURE)
    }
}
