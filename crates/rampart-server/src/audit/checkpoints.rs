//! Signed audit checkpoints, kept outside the database (SPEC §9, §10).
//!
//! The signing key is its own Ed25519 key: `audit_signing_key` from the
//! secrets provider, or generated on first start into
//! `$RAMPART_DATA_DIR/audit-signing.key` (mode 0600); its public key is
//! written beside the checkpoints as `public.key`. A checkpoint
//! (`checkpoint-<seq>.json`, and a row in `audit_checkpoints`) is written
//! every minute when the chain has grown, and at shutdown. Verification
//! checks the chain and then the newest checkpoint signed by the current
//! key, so a deleted tail or a chain recomputed after an edit is reported
//! too; checkpoints signed by another key are skipped with a warning.
//! Purge anchors (`purge-<seq>.json`, and a row) say where a retention
//! purge cut the chain; they are signed under their own domain prefix.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rampart::audit::{Checkpoint, CheckpointKind, Verification};

use crate::{
    config::Settings,
    private_dir::create_private_dir,
    store::{Database, StoreError, clock::now_rfc3339},
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
    let path = settings.storage.data_dir.join("audit-signing.key");
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
            create_private_dir(&settings.storage.data_dir)
                .map_err(io("data directory", &settings.storage.data_dir))?;
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

/// Writes and reads checkpoints: each is a file in the checkpoint
/// directory (outside the database, so a writer of the database cannot
/// delete it) and a row in the database (so every instance and the CLI see
/// every instance's checkpoints and purge anchors).
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
        let dir = settings.audit.checkpoint_dir.clone();
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
    /// signing a tampered chain would launder it.
    pub async fn write(&self, db: &Database) -> Result<Option<Checkpoint>, CheckpointError> {
        let audit = db.audit();
        let Some((seq, hash)) = audit.head().await? else {
            return Ok(None);
        };
        let mut warnings = Vec::new();
        let anchor = self
            .newest(db, CheckpointKind::PurgeAnchor, &mut warnings)
            .await?;
        let newest = self.newest(db, CheckpointKind::Head, &mut warnings).await?;
        log_warnings(&warnings);
        if let Some(a) = &anchor
            && newest.as_ref().is_none_or(|n| n.seq <= a.seq)
        {
            // Purged past the last checkpoint: continue from the anchor.
            if a.seq >= seq || !audit.verify_after(a.seq, &a.hash).await?.ok {
                tracing::error!(
                    anchor_seq = a.seq,
                    "audit chain does not continue the purge anchor; not signing it"
                );
                return Ok(None);
            }
            return self.sign_head(db, seq, &hash).await.map(Some);
        }
        match newest {
            Some(newest) => {
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
            None => {
                if !audit.verify().await?.ok {
                    tracing::error!("audit chain is broken; not signing it");
                    return Ok(None);
                }
            }
        }
        self.sign_head(db, seq, &hash).await.map(Some)
    }

    async fn sign_head(
        &self,
        db: &Database,
        seq: i64,
        hash: &str,
    ) -> Result<Checkpoint, CheckpointError> {
        let checkpoint =
            Checkpoint::sign(&self.key, CheckpointKind::Head, seq, hash, &now_rfc3339());
        self.write_file(&format!("checkpoint-{seq:016}"), &checkpoint)?;
        db.audit()
            .store_checkpoint(CheckpointKind::Head, &checkpoint)
            .await?;
        Ok(checkpoint)
    }

    /// Written to a temporary file and renamed, so a crash never leaves
    /// half a checkpoint.
    fn write_file(&self, stem: &str, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let path = self.dir.join(format!("{stem}.json"));
        let tmp = self.dir.join(format!(".{stem}.tmp"));
        let body = serde_json::to_vec_pretty(checkpoint).unwrap_or_default();
        std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&body).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io("checkpoint", &path))
    }

    /// Signs the anchor of a purge — entries through `seq` (ending in
    /// `hash`) are deleted on purpose — and writes it to the directory; the
    /// purge's transaction stores it in the database.
    pub fn sign_purge_anchor(&self, seq: i64, hash: &str) -> Result<Checkpoint, CheckpointError> {
        let anchor = Checkpoint::sign(
            &self.key,
            CheckpointKind::PurgeAnchor,
            seq,
            hash,
            &now_rfc3339(),
        );
        self.write_file(&format!("purge-{seq:016}"), &anchor)?;
        Ok(anchor)
    }

    /// The newest statement of `kind` signed by the current key, from the
    /// directory and the database (see [`Checkpoints::signed`]).
    pub async fn newest(
        &self,
        db: &Database,
        kind: CheckpointKind,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self
            .signed(db, kind, warnings)
            .await?
            .into_iter()
            .max_by_key(|cp| cp.seq))
    }

    /// Every statement of `kind` signed by the current key, from the
    /// directory and the database. Any other (another key's, a rotated
    /// key's, unreadable) is skipped with a warning: it proves nothing, so
    /// it cannot fail verification by itself.
    pub async fn signed(
        &self,
        db: &Database,
        kind: CheckpointKind,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Checkpoint>, CheckpointError> {
        let key = self.verifying_key();
        let mut valid = Vec::new();
        let mut consider = |cp: Checkpoint, source: &str, warnings: &mut Vec<String>| {
            if cp.verify(&key, kind) {
                valid.push(cp);
            } else {
                warnings.push(format!(
                    "{source} is not signed by the current audit signing key; skipped"
                ));
            }
        };
        let prefix = match kind {
            CheckpointKind::PurgeAnchor => "purge-",
            _ => "checkpoint-",
        };
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if !(name.starts_with(prefix) && name.ends_with(".json")) {
                        continue;
                    }
                    match std::fs::read(entry.path())
                        .ok()
                        .and_then(|b| serde_json::from_slice::<Checkpoint>(&b).ok())
                    {
                        Some(cp) => consider(cp, &name, warnings),
                        None => {
                            warnings.push(format!("{name} is not a readable checkpoint; skipped"));
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("checkpoint directory", &self.dir)(e)),
        }
        for cp in db.audit().checkpoints(kind).await? {
            let source = format!("the database's {} at seq {}", kind.as_str(), cp.seq);
            consider(cp, &source, warnings);
        }
        Ok(valid)
    }

    /// The chain's verification (from the purge anchor, when entries were
    /// purged), checking every entry a signed checkpoint vouches for;
    /// skipped checkpoints are logged as warnings.
    pub async fn verify(&self, db: &Database) -> Result<Verification, CheckpointError> {
        let (verification, warnings) = self.verify_reporting(db).await?;
        log_warnings(&warnings);
        Ok(verification)
    }

    /// [`Checkpoints::verify`], returning the warnings instead of logging
    /// them (for the CLI).
    pub async fn verify_reporting(
        &self,
        db: &Database,
    ) -> Result<(Verification, Vec<String>), CheckpointError> {
        let audit = db.audit();
        let mut warnings = Vec::new();
        let anchor = self
            .newest(db, CheckpointKind::PurgeAnchor, &mut warnings)
            .await?;
        let heads = self.signed(db, CheckpointKind::Head, &mut warnings).await?;
        let anchor_seq = anchor.as_ref().map(|a| a.seq);
        let mut verification = audit
            .verify_with(anchor.map(|a| (a.seq, a.hash)), &heads)
            .await?;
        // A purge appends its own event after the anchor, so an anchored
        // chain is never empty: nothing after it means a cut tail.
        if let Some(seq) = anchor_seq
            && verification.ok
            && verification.entries == 0
        {
            verification = Verification {
                ok: false,
                first_bad_seq: Some(seq + 1),
                ..verification
            };
        }
        Ok((verification, warnings))
    }
}

fn log_warnings(warnings: &[String]) {
    for warning in warnings {
        tracing::warn!(warning = warning.as_str(), "audit checkpoint skipped");
    }
}
