//! The roles and what a stored role name reads as.

use std::fmt;

/// The roles of SPEC §3.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The default.
    User,
    /// Reads and writes clinical fields of health records.
    Clinician,
    /// Reads insurance ids.
    Billing,
    /// Reads the audit log.
    Auditor,
    /// Everything administrative.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::User,
        Role::Clinician,
        Role::Billing,
        Role::Auditor,
        Role::Admin,
    ];

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Clinician => "clinician",
            Role::Billing => "billing",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or("must be one of user, clinician, billing, auditor, admin")
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Role {
    /// A stored role name; an unknown one (only someone with write access
    /// to the database can store one past the schema's check) reads as the
    /// least privileged role.
    fn from(stored: String) -> Self {
        Role::parse(&stored).unwrap_or(Role::User)
    }
}
