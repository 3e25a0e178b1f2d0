//! `rampart retention purge`: deletes audit entries older than the
//! retention period without giving whoever can write the database a way to
//! erase history.
//!
//! Only the contiguous oldest prefix of entries older than the cutoff is
//! deleted, never an entry after the newest signed checkpoint (nobody
//! outside the database vouched for those), and nothing at all when the
//! chain does not verify or its time goes backwards (an entry dated in the
//! past appended later is a forgery, or a clock to look at first).

use std::time::{Duration, SystemTime};

use rampart::audit::{AuditEvent, CheckpointKind, EventType};

use crate::{
    audit::checkpoints::{CheckpointError, Checkpoints},
    store::{Database, StoreError},
};

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purged {
    /// Entries through `seq` were deleted.
    Through {
        /// The last deleted entry.
        seq: i64,
        /// How many entries went.
        removed: u64,
        /// Entries older than this (RFC 3339) were eligible.
        cutoff: String,
    },
    /// Nothing is old enough (or the old entries are not yet covered by a
    /// signed checkpoint).
    Nothing {
        /// The cutoff (RFC 3339).
        cutoff: String,
    },
}

/// Why a purge refused to run.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The chain does not verify: an anchor would bless it.
    #[error("audit chain broken at seq {0}; not purging")]
    Broken(String),
    /// An entry is dated before its predecessor.
    #[error("audit timestamps go backwards at seq {0}; not purging")]
    TimeReversed(i64),
    /// Checkpoints could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Purges entries older than `retention_days`.
pub async fn purge(
    db: &Database,
    checkpoints: &Checkpoints,
    retention_days: u32,
) -> Result<Purged, PurgeError> {
    let (verification, _) = checkpoints.verify_reporting(db).await?;
    if !verification.ok {
        return Err(PurgeError::Broken(
            verification
                .first_bad_seq
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
        ));
    }
    let mut warnings = Vec::new();
    let anchor = checkpoints
        .newest(db, CheckpointKind::PurgeAnchor, &mut warnings)
        .await?;
    let audit = db.audit();
    if let Some(seq) = audit
        .first_time_reversal(anchor.as_ref().map_or(0, |a| a.seq))
        .await?
    {
        return Err(PurgeError::TimeReversed(seq));
    }
    let days = u64::from(retention_days);
    let cutoff = SystemTime::now()
        .checked_sub(Duration::from_secs(days * 86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let cutoff = humantime::format_rfc3339_seconds(cutoff).to_string();
    let signed = checkpoints
        .newest(db, CheckpointKind::Head, &mut warnings)
        .await?;
    let Some(signed) = signed else {
        return Ok(Purged::Nothing { cutoff });
    };
    let Some((seq, hash)) = audit.purge_candidate(&cutoff, signed.seq).await? else {
        return Ok(Purged::Nothing { cutoff });
    };
    // The signed anchor reaches the directory before anything is deleted:
    // a crash in between leaves extra entries, never an unverifiable chain.
    let anchor = checkpoints.sign_purge_anchor(seq, &hash)?;
    let event = AuditEvent::new(EventType::DataModification)
        .detail("action", "retention_purge")
        .detail("purged_through_seq", seq)
        .detail("retention_days", days);
    let removed = audit.purge_through(&anchor, &event).await?;
    Ok(Purged::Through {
        seq,
        removed,
        cutoff,
    })
}
