//! The security audit trail: typed events and a hash chain that shows any
//! edit, deletion, insertion or reordering.
//!
//! Each [`AuditEntry`] carries `seq`, `prev_hash` and
//! `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical)`, where `canonical` is the
//! JSON array `[seq, ts, event_type, user_id, ip, request_id, details]` with
//! `details` as the exact stored text. The first entry's `prev_hash` is
//! [`GENESIS_HASH`]. [`ChainVerifier`] walks entries in `seq` order and
//! names the first sequence number that breaks the chain.
//!
//! Storage is the application's: it appends with [`AuditEntry::next`] under
//! a lock that serialises appends (a database transaction), so the chain
//! stays one sequence.
//!
//! ```
//! use rampart::audit::{AuditEntry, AuditEvent, ChainVerifier, EventType};
//!
//! let e1 = AuditEntry::next(None, "2026-11-29T08:00:00Z", &AuditEvent::new(EventType::LoginSuccess).user("1"));
//! let e2 = AuditEntry::next(Some(&e1), "2026-11-29T08:00:01Z", &AuditEvent::new(EventType::Logout).user("1"));
//! let mut v = ChainVerifier::new();
//! v.push(&e1);
//! v.push(&e2);
//! assert!(v.finish().ok);
//! ```

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::redact::redact_json;

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The event types a security audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// A login succeeded.
    LoginSuccess,
    /// A login failed.
    LoginFailure,
    /// A session ended.
    Logout,
    /// A refresh token was exchanged.
    TokenRefresh,
    /// A password changed.
    PasswordChange,
    /// An account was locked after failed logins.
    AccountLocked,
    /// Sensitive data was read.
    DataAccess,
    /// Data was changed.
    DataModification,
    /// A role or permission changed.
    PermissionChange,
    /// Personal data was exported.
    DataExport,
    /// Personal data was erased.
    DataErasure,
    /// A file was uploaded.
    FileUpload,
    /// A payment was made.
    Payment,
    /// A refused or suspicious request.
    SecurityViolation,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 14] = [
        Self::LoginSuccess,
        Self::LoginFailure,
        Self::Logout,
        Self::TokenRefresh,
        Self::PasswordChange,
        Self::AccountLocked,
        Self::DataAccess,
        Self::DataModification,
        Self::PermissionChange,
        Self::DataExport,
        Self::DataErasure,
        Self::FileUpload,
        Self::Payment,
        Self::SecurityViolation,
    ];

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LoginSuccess => "login_success",
            Self::LoginFailure => "login_failure",
            Self::Logout => "logout",
            Self::TokenRefresh => "token_refresh",
            Self::PasswordChange => "password_change",
            Self::AccountLocked => "account_locked",
            Self::DataAccess => "data_access",
            Self::DataModification => "data_modification",
            Self::PermissionChange => "permission_change",
            Self::DataExport => "data_export",
            Self::DataErasure => "data_erasure",
            Self::FileUpload => "file_upload",
            Self::Payment => "payment",
            Self::SecurityViolation => "security_violation",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An event before it is appended.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// What happened.
    pub event_type: EventType,
    /// Who did it (or whose account it concerns).
    pub user_id: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// Within which request.
    pub request_id: Option<String>,
    /// Context; redacted when the entry is built.
    pub details: Value,
}

impl AuditEvent {
    /// An event with no context yet.
    pub fn new(event_type: EventType) -> Self {
        Self {
            event_type,
            user_id: None,
            ip: None,
            request_id: None,
            details: Value::Object(Default::default()),
        }
    }

    /// Sets the user.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }

    /// Sets the request id.
    pub fn request(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// The longest string kept in an entry's details, in characters: a
/// client-supplied value (a 60 000-character username) is truncated to
/// this, ending in [`TRUNCATED`], so the trail grows by a bounded amount
/// per request whatever is sent.
pub const MAX_DETAIL_CHARS: usize = 256;

/// How a truncated detail ends.
pub const TRUNCATED: &str = "…[truncated]";

fn bound_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > MAX_DETAIL_CHARS => {
            let keep = MAX_DETAIL_CHARS - TRUNCATED.chars().count();
            let mut cut: String = s.chars().take(keep).collect();
            cut.push_str(TRUNCATED);
            *s = cut;
        }
        Value::Array(items) => items.iter_mut().for_each(bound_strings),
        Value::Object(map) => {
            let long: Vec<String> = map
                .keys()
                .filter(|k| k.chars().count() > MAX_DETAIL_CHARS)
                .cloned()
                .collect();
            for key in long {
                if let Some(v) = map.remove(&key) {
                    let mut short = Value::String(key);
                    bound_strings(&mut short);
                    if let Value::String(k) = short {
                        map.insert(k, v);
                    }
                }
            }
            map.values_mut().for_each(bound_strings);
        }
        _ => {}
    }
}

/// Where events go: the application's durable, serialised store. An
/// implementation returns only once the entry is durable, so a request can
/// be acknowledged after its events.
pub trait AuditSink: Send + Sync + 'static {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Appends `event` to the chain and returns the stored entry.
    fn append(
        &self,
        event: AuditEvent,
    ) -> impl std::future::Future<Output = Result<AuditEntry, Self::Error>> + Send;
}

/// A stored, chained entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// RFC 3339 UTC.
    pub ts: String,
    /// The event type's name.
    pub event_type: String,
    /// The user, when known.
    pub user_id: Option<String>,
    /// The client address, when known.
    pub ip: Option<String>,
    /// The request id, when known.
    pub request_id: Option<String>,
    /// Redacted details, as canonical JSON text.
    pub details: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash (lowercase hex).
    pub hash: String,
}

impl AuditEntry {
    /// The entry after `prev` (or the first) for `event` at `ts`; details
    /// are redacted here, so no caller can store a secret by mistake.
    pub fn next(prev: Option<&AuditEntry>, ts: &str, event: &AuditEvent) -> Self {
        let (seq, prev_hash) = prev.map_or((1, GENESIS_HASH.to_owned()), |p| {
            (p.seq + 1, p.hash.clone())
        });
        Self::after(seq, prev_hash, ts, event)
    }

    /// The entry numbered `seq` following `prev_hash`.
    pub fn after(seq: i64, prev_hash: String, ts: &str, event: &AuditEvent) -> Self {
        let mut details = event.details.clone();
        redact_json(&mut details);
        bound_strings(&mut details);
        let mut entry = Self {
            seq,
            ts: ts.to_owned(),
            event_type: event.event_type.as_str().to_owned(),
            user_id: event.user_id.clone(),
            ip: event.ip.clone(),
            request_id: event.request_id.clone(),
            details: details.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.computed_hash();
        entry
    }

    /// The hash the entry's fields and `prev_hash` call for.
    pub fn computed_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.ts,
            self.event_type,
            self.user_id,
            self.ip,
            self.request_id,
            self.details
        ]);
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(b"\n");
        h.update(canonical.to_string().as_bytes());
        hex(&h.finalize())
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The result of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    /// True when the whole chain holds.
    pub ok: bool,
    /// Entries examined.
    pub entries: u64,
    /// The first sequence number that breaks the chain.
    pub first_bad_seq: Option<i64>,
}

/// Walks a chain in `seq` order; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev_seq: i64,
    prev_hash: String,
    entries: u64,
    first_bad: Option<i64>,
    /// Hashes signed checkpoints vouch for, by seq.
    expected: std::collections::BTreeMap<i64, String>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the chain to start at seq 1 after [`GENESIS_HASH`].
    pub fn new() -> Self {
        Self::anchored(0, GENESIS_HASH.to_owned())
    }

    /// A verifier expecting the chain to continue after `seq` with `hash`
    /// (entries before it purged, their last hash kept in a checkpoint).
    pub fn anchored(seq: i64, hash: String) -> Self {
        Self {
            prev_seq: seq,
            prev_hash: hash,
            entries: 0,
            first_bad: None,
            expected: std::collections::BTreeMap::new(),
        }
    }

    /// Also requires the entry at each checkpoint's `seq` to carry its
    /// hash, and the chain to reach the highest one: every signed
    /// checkpoint is checked during the one walk, not only the newest, so
    /// a verifier that sees only some of them still catches a rewrite.
    /// Checkpoints at or before the anchor are ignored (purged).
    pub fn with_checkpoints<'a>(
        mut self,
        checkpoints: impl IntoIterator<Item = &'a Checkpoint>,
    ) -> Self {
        for cp in checkpoints {
            if cp.seq > self.prev_seq {
                self.expected.insert(cp.seq, cp.hash.clone());
            }
        }
        self
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: &AuditEntry) {
        self.entries += 1;
        if self.first_bad.is_some() {
            return;
        }
        let in_order = entry.seq == self.prev_seq + 1;
        let linked = entry.prev_hash == self.prev_hash;
        let intact = entry.hash == entry.computed_hash();
        let vouched = self
            .expected
            .get(&entry.seq)
            .is_none_or(|h| *h == entry.hash);
        if !(in_order && linked && intact && vouched) {
            // A gap means the missing entry is the bad one.
            self.first_bad = Some(if entry.seq > self.prev_seq + 1 {
                self.prev_seq + 1
            } else {
                entry.seq
            });
            return;
        }
        self.prev_seq = entry.seq;
        self.prev_hash = entry.hash.clone();
    }

    /// The last good `(seq, hash)` seen.
    pub fn head(&self) -> (i64, &str) {
        (self.prev_seq, &self.prev_hash)
    }

    /// The verdict.
    pub fn finish(&self) -> Verification {
        // A checkpoint beyond the last entry: the tail was cut.
        let cut = self
            .expected
            .last_key_value()
            .filter(|(seq, _)| **seq > self.prev_seq)
            .map(|_| self.prev_seq + 1);
        let first_bad = self.first_bad.or(cut);
        Verification {
            ok: first_bad.is_none(),
            entries: self.entries,
            first_bad_seq: first_bad,
        }
    }
}

/// What a signed [`Checkpoint`] states. Each kind signs under its own
/// domain-separation prefix, so a signature made for one can never be
/// replayed as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckpointKind {
    /// "The chain's head was entry `seq` with `hash`."
    Head,
    /// "Entries through `seq` (the last one with `hash`) were purged on
    /// purpose; the chain continues from there."
    PurgeAnchor,
}

impl CheckpointKind {
    /// The prefix of the signed bytes.
    pub fn domain(&self) -> &'static str {
        match self {
            Self::Head => "rampart-audit-checkpoint",
            Self::PurgeAnchor => "rampart-audit-purge-anchor",
        }
    }

    /// A short name for storage (`checkpoint`, `purge_anchor`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Head => "checkpoint",
            Self::PurgeAnchor => "purge_anchor",
        }
    }
}

/// A signed statement about the chain: "entry `seq` had `hash` at `ts`",
/// either as its head or as the end of a purge ([`CheckpointKind`]).
///
/// Whoever can write the database can recompute the whole chain or cut its
/// tail without breaking a link; a checkpoint signed with a key kept
/// outside the database (like CloudTrail's signed digest files) catches
/// both: the verifier requires the entry at `seq` to still have `hash`.
///
/// ```
/// use rampart::audit::{Checkpoint, CheckpointKind};
///
/// let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
/// let cp = Checkpoint::sign(&key, CheckpointKind::Head, 7, &"ab".repeat(32), "2026-12-01T00:00:00Z");
/// assert!(cp.verify(&key.verifying_key(), CheckpointKind::Head));
/// // The same signature says nothing about a purge.
/// assert!(!cp.verify(&key.verifying_key(), CheckpointKind::PurgeAnchor));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The last entry covered.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When the checkpoint was made (RFC 3339 UTC).
    pub ts: String,
    /// Ed25519 signature (base64) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes: the kind's domain prefix, then seq, hash and time.
    pub fn message(kind: CheckpointKind, seq: i64, hash: &str, ts: &str) -> Vec<u8> {
        format!("{}\n{seq}\n{hash}\n{ts}", kind.domain()).into_bytes()
    }

    /// Signs `(seq, hash)` at `ts` as a statement of `kind`.
    pub fn sign(
        key: &ed25519_dalek::SigningKey,
        kind: CheckpointKind,
        seq: i64,
        hash: &str,
        ts: &str,
    ) -> Self {
        use base64::Engine as _;
        use ed25519_dalek::Signer as _;
        let signature = key.sign(&Self::message(kind, seq, hash, ts));
        Self {
            seq,
            hash: hash.to_owned(),
            ts: ts.to_owned(),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
        }
    }

    /// Whether the signature is `key`'s, made for `kind`.
    pub fn verify(&self, key: &ed25519_dalek::VerifyingKey, kind: CheckpointKind) -> bool {
        use base64::Engine as _;
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&self.signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify_strict(
            &Self::message(kind, self.seq, &self.hash, &self.ts),
            &signature,
        )
        .is_ok()
    }
}

/// Checks a verified chain against the newest checkpoint: the entry at the
/// checkpoint's `seq` must exist and still carry its hash. `hash_at` looks
/// an entry's stored hash up; `head_seq` is the chain's last `seq`.
pub fn check_against(
    verification: Verification,
    checkpoint: &Checkpoint,
    head_seq: i64,
    hash_at_checkpoint: Option<&str>,
) -> Verification {
    if !verification.ok {
        return verification;
    }
    let bad = if head_seq < checkpoint.seq {
        // The tail was cut: the first missing entry is the bad one.
        Some(head_seq + 1)
    } else if hash_at_checkpoint != Some(checkpoint.hash.as_str()) {
        // Rewritten up to the checkpoint: the chain no longer ends where
        // the signed head said it did.
        Some(checkpoint.seq)
    } else {
        None
    };
    Verification {
        ok: bad.is_none(),
        first_bad_seq: bad,
        ..verification
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let e = AuditEvent::new(EventType::DataAccess)
                .user("7")
                .detail("i", i);
            let next = AuditEntry::next(out.last(), "2026-11-29T00:00:00Z", &e);
            out.push(next);
        }
        out
    }

    fn verify(entries: &[AuditEntry]) -> Verification {
        let mut v = ChainVerifier::new();
        entries.iter().for_each(|e| v.push(e));
        v.finish()
    }

    #[test]
    fn every_kind_of_tampering_names_the_first_bad_entry() {
        let good = chain(5);
        assert_eq!(
            verify(&good),
            Verification {
                ok: true,
                entries: 5,
                first_bad_seq: None
            }
        );

        let mut edited = good.clone();
        edited[2].details = r#"{"i":99}"#.to_owned();
        assert_eq!(verify(&edited).first_bad_seq, Some(3));

        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted).first_bad_seq, Some(2));

        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped).first_bad_seq, Some(2));

        let mut inserted = good.clone();
        let forged = AuditEntry::after(
            3,
            good[1].hash.clone(),
            "2026-11-29T00:00:00Z",
            &AuditEvent::new(EventType::Logout),
        );
        inserted.insert(2, forged);
        assert!(!verify(&inserted).ok);

        let mut rehashed = good.clone();
        rehashed[3].user_id = Some("8".into());
        rehashed[3].hash = rehashed[3].computed_hash();
        assert_eq!(
            verify(&rehashed).first_bad_seq,
            Some(5),
            "the next link breaks"
        );
    }

    #[test]
    fn checkpoints_catch_cut_tails_and_rewritten_chains() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let good = chain(5);
        let cp = Checkpoint::sign(
            &key,
            CheckpointKind::Head,
            5,
            &good[4].hash,
            "2026-11-29T00:00:00Z",
        );
        assert!(cp.verify(&key.verifying_key(), CheckpointKind::Head));
        let mut forged = cp.clone();
        forged.seq = 3;
        assert!(!forged.verify(&key.verifying_key(), CheckpointKind::Head));
        assert!(
            !cp.verify(&key.verifying_key(), CheckpointKind::PurgeAnchor),
            "a checkpoint cannot be replayed as a purge anchor"
        );
        let anchor = Checkpoint::sign(
            &key,
            CheckpointKind::PurgeAnchor,
            5,
            &good[4].hash,
            "2026-11-29T00:00:00Z",
        );
        assert!(!anchor.verify(&key.verifying_key(), CheckpointKind::Head));
        let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
        assert!(!cp.verify(&other.verifying_key(), CheckpointKind::Head));

        let ok = check_against(verify(&good), &cp, 5, Some(&good[4].hash));
        assert!(ok.ok);
        // Tail deleted: the remaining chain is intact, the checkpoint is not.
        let cut = check_against(verify(&good[..3]), &cp, 3, None);
        assert_eq!(cut.first_bad_seq, Some(4));
        // Whole chain recomputed after an edit: links hold, the head hash differs.
        let mut rewritten: Vec<AuditEntry> = Vec::new();
        for (i, e) in good.iter().enumerate() {
            let mut event = AuditEvent::new(EventType::DataAccess)
                .user("7")
                .detail("i", i as i64);
            if i == 1 {
                event = event.detail("forged", true);
            }
            rewritten.push(AuditEntry::next(rewritten.last(), &e.ts, &event));
        }
        assert!(verify(&rewritten).ok);
        let caught = check_against(verify(&rewritten), &cp, 5, Some(&rewritten[4].hash));
        assert_eq!(caught.first_bad_seq, Some(5));
    }

    #[test]
    fn every_signed_checkpoint_is_checked_in_the_walk() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let good = chain(6);
        let sign =
            |e: &AuditEntry| Checkpoint::sign(&key, CheckpointKind::Head, e.seq, &e.hash, "t");
        let (old, newest) = (sign(&good[2]), sign(&good[5]));
        let walk = |entries: &[AuditEntry], cps: &[Checkpoint]| {
            let mut v = ChainVerifier::new().with_checkpoints(cps);
            entries.iter().for_each(|e| v.push(e));
            v.finish()
        };
        assert!(walk(&good, &[old.clone(), newest.clone()]).ok);
        // Rewritten from entry 2 on, and the newest checkpoint hidden: the
        // older one still catches it.
        let mut rewritten: Vec<AuditEntry> = good[..1].to_vec();
        for e in &good[1..] {
            let event = AuditEvent::new(EventType::DataAccess).detail("forged", e.seq);
            rewritten.push(AuditEntry::next(rewritten.last(), &e.ts, &event));
        }
        assert_eq!(
            walk(&rewritten, std::slice::from_ref(&old)).first_bad_seq,
            Some(3)
        );
        // The tail past a checkpoint cut away.
        assert_eq!(walk(&good[..4], &[old, newest]).first_bad_seq, Some(5));
    }

    proptest::proptest! {
        /// Whatever a client sends, no string in an entry's details is
        /// longer than the bound, and short ones are kept whole.
        #[test]
        fn details_are_bounded_for_any_input(
            values in proptest::collection::vec(proptest::prelude::any::<String>(), 0..4),
            long in 0usize..3000,
            ch in proptest::prelude::any::<char>(),
        ) {
            let mut event = AuditEvent::new(EventType::LoginFailure)
                .detail("username", std::iter::repeat_n(ch, long).collect::<String>())
                .detail("nested", serde_json::json!({"list": values.clone()}));
            for (i, v) in values.iter().enumerate() {
                event = event.detail(&format!("k{i}"), v.as_str());
            }
            let entry = AuditEntry::next(None, "2026-12-01T00:00:00Z", &event);
            let details: Value = serde_json::from_str(&entry.details).unwrap();
            fn strings(v: &Value, out: &mut Vec<String>) {
                match v {
                    Value::String(s) => out.push(s.clone()),
                    Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                    Value::Object(m) => m.iter().for_each(|(k, x)| { out.push(k.clone()); strings(x, out) }),
                    _ => {}
                }
            }
            let mut all = Vec::new();
            strings(&details, &mut all);
            for s in &all {
                proptest::prop_assert!(s.chars().count() <= MAX_DETAIL_CHARS, "{} chars", s.chars().count());
            }
            let username = details["username"].as_str().unwrap_or_default();
            if long > MAX_DETAIL_CHARS {
                proptest::prop_assert!(username.ends_with(TRUNCATED));
            }
            // A few hundred bytes per client string, at most.
            proptest::prop_assert!(entry.details.len() <= (values.len() * 2 + 2) * 4 * (MAX_DETAIL_CHARS + 16) + 64);
        }
    }

    #[test]
    fn details_are_redacted_before_hashing() {
        let e = AuditEvent::new(EventType::LoginFailure)
            .detail("password", "hunter2")
            .detail("username", "bob");
        let entry = AuditEntry::next(None, "t", &e);
        assert!(!entry.details.contains("hunter2"));
        assert!(entry.details.contains("bob"));
    }
}
