//! An account as authentication checks it and as its owner sees it.

use sqlx::FromRow;

use super::{Role, UserId};

/// A user row without its password hash: what a token must still match
/// (role, token version, erasure) and the owner's own view. This is what
/// the in-memory account cache holds, so the hash never sits in it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Account {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Role, as stored now.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// Sanitised bio.
    pub bio: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Bumped to invalidate every token issued before.
    pub token_version: i64,
    /// RFC 3339.
    pub created_at: String,
    /// Set once the account is erased.
    pub erased_at: Option<String>,
}

impl Account {
    /// The columns [`Account`] reads, in a `users` query.
    pub const COLUMNS: &'static str = "id, username, email, role, bio, website, full_name, phone, address, \
                                       token_version, created_at, erased_at";
}
