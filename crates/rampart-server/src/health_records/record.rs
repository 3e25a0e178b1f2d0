//! What a health record is made of: its fields, who may read which
//! (minimum necessary), and how a stored record is opened. The route and
//! the GDPR export both open records here, so they agree on bad data.

use rampart::crypto::{CryptoError, FieldCipher};
use serde_json::{Map, Value};

use crate::{
    domain::{Role, UserId},
    health_records::store::HealthRow,
};

/// The fields of a record.
pub const FIELDS: [&str; 4] = ["diagnosis", "medications", "insurance_id", "notes"];

/// Who may read which fields (minimum necessary, HIPAA): the record's owner
/// reads everything; the table says what each role may read of others'
/// records. Roles not listed (user, auditor, admin) read nothing: 403.
pub const READABLE_BY_ROLE: &[(Role, &[&str])] = &[
    (Role::Clinician, &["diagnosis", "medications", "notes"]),
    (Role::Billing, &["insurance_id"]),
];

/// Roles that may write others' records.
pub const WRITERS: &[Role] = &[Role::Clinician];

/// The associated data binding a ciphertext to its record and field, so a
/// value copied into another row or column does not decrypt.
pub fn context(user_id: UserId, field: &str) -> Vec<u8> {
    format!("health:{user_id}:{field}").into_bytes()
}

/// A stored record that cannot be opened: only someone with write access
/// to the database (or without the data key) makes one.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A field does not decrypt under any known key.
    #[error("health record {user} field {field} does not decrypt")]
    Decrypt {
        /// The record.
        user: UserId,
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: CryptoError,
    },
    /// The medications decrypt but are not a JSON array.
    #[error("health record {user}: the medications are not JSON")]
    Medications {
        /// The record.
        user: UserId,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Decrypts `fields` of `row`: text fields as strings, the medications as
/// the stored JSON array.
pub fn open(
    cipher: &FieldCipher,
    row: &HealthRow,
    fields: &[&'static str],
) -> Result<Map<String, Value>, RecordError> {
    let user = row.user_id;
    let mut out = Map::new();
    for &field in fields {
        let stored = match field {
            "diagnosis" => &row.diagnosis,
            "medications" => &row.medications,
            "insurance_id" => &row.insurance_id,
            _ => &row.notes,
        };
        let plain = cipher
            .decrypt(stored, &context(user, field))
            .map_err(|source| RecordError::Decrypt {
                user,
                field,
                source,
            })?;
        let value = if field == "medications" {
            serde_json::from_slice(&plain)
                .map_err(|source| RecordError::Medications { user, source })?
        } else {
            Value::String(String::from_utf8_lossy(&plain).into_owned())
        };
        out.insert(field.to_owned(), value);
    }
    Ok(out)
}
