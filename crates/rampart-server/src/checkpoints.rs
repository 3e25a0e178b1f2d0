//! Signed audit checkpoints, kept outside the database (SPEC §9, §10).
//!
//! The signing key is its own Ed25519 key: `audit_signing_key` from the
//! secrets provider, or generated on first start into
//! `$RAMPART_DATA_DIR/audit-signing.key` (mode 0600); its public key is
//! written beside the checkpoints as `public.key`. A checkpoint
//! (`checkpoint-<seq>.json`) is written every minute when the chain has
//! grown, and at shutdown. Verification checks the chain and then the
//! newest validly signed checkpoint, so a deleted tail or a chain
//! recomputed after an edit is reported too.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rampart::audit::{Checkpoint, Verification, check_against};

use crate::{
    config::Settings,
    store::{Database, StoreError, create_private_dir, users::now_rfc3339},
};

/// Why checkpoints could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is.
        what: &'static str,
        /// Where.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The key file does not hold a key.
    #[error("the audit signing key in {0} is not 32 base64 bytes")]
    BadKey(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + use<> {
    let path = path.display().to_string();
    move |source| CheckpointError::Io { what, path, source }
}

/// The signing key: `audit_signing_key` from the secrets provider, else
/// loaded from the data directory, or generated there.
pub fn signing_key(settings: &Settings) -> Result<SigningKey, CheckpointError> {
    if let Some(seed) = &settings.secrets.audit_signing_key {
        use secrecy::ExposeSecret as _;
        return Ok(SigningKey::from_bytes(seed.expose_secret()));
    }
    let path = settings.data_dir.join("audit-signing.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| CheckpointError::BadKey(path.display().to_string()))?;
            let seed: [u8; 32] = bytes
                .try_into()
                .map_err(|_| CheckpointError::BadKey(path.display().to_string()))?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::RngCore as _;
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            create_private_dir(&settings.data_dir)
                .map_err(io("data directory", &settings.data_dir))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut file = options
                .open(&path)
                .map_err(io("audit signing key", &path))?;
            file.write_all(
                base64::engine::general_purpose::STANDARD
                    .encode(seed)
                    .as_bytes(),
            )
            .and_then(|()| file.sync_all())
            .map_err(io("audit signing key", &path))?;
            tracing::warn!(path = %path.display(), "generated a new audit signing key");
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(io("audit signing key", &path)(e)),
    }
}

/// Writes and reads checkpoints in one directory.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    key: SigningKey,
}

impl Checkpoints {
    /// For `settings`' checkpoint directory and signing key; writes the
    /// public key beside the checkpoints.
    pub fn open(settings: &Settings) -> Result<Self, CheckpointError> {
        let key = signing_key(settings)?;
        let dir = settings.audit_checkpoint_dir.clone();
        create_private_dir(&dir).map_err(io("checkpoint directory", &dir))?;
        let public = dir.join("public.key");
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
        std::fs::write(&public, encoded).map_err(io("audit public key", &public))?;
        Ok(Self { dir, key })
    }

    /// The key checkpoints are verified with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs the chain's current head, unless the newest checkpoint already
    /// covers it — or the entries since that checkpoint do not continue it:
    /// signing a tampered chain would launder it. Written to a temporary
    /// file and renamed, so a crash never leaves half a checkpoint.
    pub async fn write(&self, db: &Database) -> Result<Option<Checkpoint>, CheckpointError> {
        let audit = db.audit();
        let Some((seq, hash)) = audit.head().await? else {
            return Ok(None);
        };
        let anchor = match self.purge_anchor() {
            Ok(a) => a,
            Err(reason) => {
                tracing::error!(reason, "audit purge anchors cannot be trusted; not signing");
                return Ok(None);
            }
        };
        let newest = self.newest();
        if let (Some(a), Ok(n)) = (&anchor, &newest)
            && n.as_ref().is_none_or(|n| n.seq <= a.seq)
        {
            // Purged past the last checkpoint: continue from the anchor.
            if a.seq >= seq || !audit.verify_after(a.seq, &a.hash).await?.ok {
                tracing::error!(
                    anchor_seq = a.seq,
                    "audit chain does not continue the purge anchor; not signing it"
                );
                return Ok(None);
            }
            return self.sign_head(seq, &hash).map(Some);
        }
        match newest {
            Ok(Some(newest)) => {
                if newest.seq >= seq {
                    return Ok(None);
                }
                let anchored =
                    audit.hash_at(newest.seq).await?.as_deref() == Some(newest.hash.as_str());
                if !anchored || !audit.verify_after(newest.seq, &newest.hash).await?.ok {
                    tracing::error!(
                        checkpoint_seq = newest.seq,
                        "audit chain does not continue the last checkpoint; not signing it"
                    );
                    return Ok(None);
                }
            }
            Ok(None) => {
                if !audit.verify().await?.ok {
                    tracing::error!("audit chain is broken; not signing it");
                    return Ok(None);
                }
            }
            Err(reason) => {
                tracing::error!(reason, "audit checkpoints cannot be trusted; not signing");
                return Ok(None);
            }
        }
        self.sign_head(seq, &hash).map(Some)
    }

    fn sign_head(&self, seq: i64, hash: &str) -> Result<Checkpoint, CheckpointError> {
        let checkpoint = Checkpoint::sign(&self.key, seq, hash, &now_rfc3339());
        let path = self.dir.join(format!("checkpoint-{seq:016}.json"));
        let tmp = self.dir.join(format!(".checkpoint-{seq:016}.tmp"));
        let body = serde_json::to_vec_pretty(&checkpoint).unwrap_or_default();
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io("checkpoint", &path))?;
        Ok(checkpoint)
    }

    /// Signs and writes the anchor of a purge: entries through `seq`
    /// (ending in `hash`) were deleted on purpose.
    pub fn write_purge_anchor(&self, seq: i64, hash: &str) -> Result<Checkpoint, CheckpointError> {
        let anchor = Checkpoint::sign(&self.key, seq, hash, &now_rfc3339());
        let path = self.dir.join(format!("purge-{seq:016}.json"));
        let tmp = self.dir.join(format!(".purge-{seq:016}.tmp"));
        let body = serde_json::to_vec_pretty(&anchor).unwrap_or_default();
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io("purge anchor", &path))?;
        Ok(anchor)
    }

    /// The newest validly signed purge anchor.
    pub fn purge_anchor(&self) -> Result<Option<Checkpoint>, String> {
        self.newest_with_prefix("purge-")
    }

    /// The newest checkpoint; an error names a file whose signature fails.
    pub fn newest(&self) -> Result<Option<Checkpoint>, String> {
        self.newest_with_prefix("checkpoint-")
    }

    fn newest_with_prefix(&self, prefix: &str) -> Result<Option<Checkpoint>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", self.dir.display())),
        };
        let key = self.verifying_key();
        let mut newest: Option<Checkpoint> = None;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(prefix) && name.ends_with(".json")) {
                continue;
            }
            let parsed = std::fs::read(entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).ok());
            match parsed {
                Some(cp) if cp.verify(&key) => {
                    if newest.as_ref().is_none_or(|n| cp.seq > n.seq) {
                        newest = Some(cp);
                    }
                }
                _ => return Err(format!("checkpoint {name} is not validly signed")),
            }
        }
        Ok(newest)
    }

    /// The chain's verification (from the purge anchor, when entries were
    /// purged), then checked against the newest checkpoint.
    pub async fn verify(&self, db: &Database) -> Result<Verification, CheckpointError> {
        let audit = db.audit();
        let anchor = match self.purge_anchor() {
            Ok(a) => a,
            Err(reason) => {
                tracing::error!(reason, "audit purge anchors cannot be trusted");
                return Ok(Verification {
                    ok: false,
                    entries: 0,
                    first_bad_seq: None,
                });
            }
        };
        let anchor_seq = anchor.as_ref().map_or(0, |a| a.seq);
        let chain = audit.verify_from(anchor.map(|a| (a.seq, a.hash))).await?;
        match self.newest() {
            Ok(None) => Ok(chain),
            // Entries the checkpoint names were purged; the anchor covers them.
            Ok(Some(cp)) if cp.seq <= anchor_seq => Ok(chain),
            Ok(Some(cp)) => {
                let head = audit.head().await?.map_or(0, |(seq, _)| seq);
                let at = audit.hash_at(cp.seq).await?;
                Ok(check_against(chain, &cp, head, at.as_deref()))
            }
            Err(reason) => {
                tracing::error!(reason, "audit checkpoints cannot be trusted");
                Ok(Verification {
                    ok: false,
                    first_bad_seq: None,
                    ..chain
                })
            }
        }
    }
}
