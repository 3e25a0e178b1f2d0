//! Users, sessions and refresh tokens.

use sqlx::{AnyPool, FromRow};

use rampart::audit::AuditEvent;

use crate::domain::{Account, Role, UserId};
use crate::{
    audit::store::{Change, append_in, audited},
    store::{
        StoreError,
        accounts::{AccountCache, SessionState},
        clock::{now_rfc3339, unix_now},
    },
};

/// A stored user: its account and its password hash. Never serialised:
/// responses use their own views. The account's fields read through
/// `Deref` (`user.username`).
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// Everything but the hash.
    #[sqlx(flatten)]
    pub account: Account,
    /// PHC string.
    pub password_hash: String,
}

impl std::ops::Deref for UserRow {
    type Target = Account;

    fn deref(&self) -> &Account {
        &self.account
    }
}

const USER_COLUMNS: &str = "id, username, email, password_hash, role, bio, website, full_name, phone, address, \
                            token_version, created_at, erased_at";

/// A new account.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Username.
    pub username: &'a str,
    /// Email.
    pub email: &'a str,
    /// PHC string.
    pub password_hash: &'a str,
    /// Role.
    pub role: Role,
    /// Optional profile fields.
    pub profile: Profile,
}

/// Profile fields that are optional; `None` leaves a field unset.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    /// Bio.
    pub bio: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Full name.
    pub full_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
}

/// A partial update: the outer `Option` says whether the field was sent,
/// the inner one whether it is cleared.
#[derive(Debug, Default, Clone)]
pub struct ProfileChanges {
    /// New username.
    pub username: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// Bio.
    pub bio: Option<Option<String>>,
    /// Website.
    pub website: Option<Option<String>>,
    /// Full name.
    pub full_name: Option<Option<String>>,
    /// Phone.
    pub phone: Option<Option<String>>,
    /// Address.
    pub address: Option<Option<String>>,
}

/// What presenting a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Spent now; a new token may be issued in the same session.
    Rotated {
        /// The user.
        user_id: UserId,
        /// The session.
        session_id: String,
    },
    /// Already spent: the session has been revoked.
    Reused {
        /// The security violation recorded (it names the user).
        entry: Box<rampart::audit::AuditEntry>,
    },
    /// Unknown, expired, revoked, or the user is erased.
    Invalid,
}

#[derive(FromRow)]
struct RefreshRow {
    session_id: String,
    user_id: UserId,
    revoked_at: Option<String>,
    spent_at: Option<String>,
    expires_at: i64,
    erased_at: Option<String>,
}

/// An account with whether one of its sessions is live, as one row.
#[derive(FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    account: Account,
    /// 0 or 1: SQLite has no booleans.
    session_live: i64,
}

/// Revokes every live session of user `id` inside the caller's transaction.
async fn end_sessions_in(conn: &mut sqlx::AnyConnection, id: UserId) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Users, sessions and refresh tokens. Every method that changes a user
/// row or a session forgets the user in the account cache once its
/// transaction is over, so the change acts at once on this instance.
#[derive(Debug, Clone)]
pub struct Users {
    pool: AnyPool,
    accounts: AccountCache,
}

impl Users {
    /// The repository over `pool`, keeping `accounts` coherent.
    pub fn new(pool: AnyPool, accounts: AccountCache) -> Self {
        Self { pool, accounts }
    }

    /// Runs `change` to user `id`, then forgets the user in the cache,
    /// whether the change committed or not (forgetting is always safe), and
    /// also when the future is dropped midway (a timeout, a client gone).
    async fn changing<T>(
        &self,
        id: UserId,
        change: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let _forget = self.accounts.forget_on_drop(id);
        change.await
    }

    /// Creates a user and records `event` (completed with the new id) in
    /// the same transaction.
    pub async fn insert(
        &self,
        user: &NewUser<'_>,
        event: AuditEvent,
    ) -> Result<UserRow, StoreError> {
        let sql = format!(
            "INSERT INTO users (username, email, password_hash, role, bio, website, full_name, phone, address, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {USER_COLUMNS}"
        );
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let row = sqlx::query_as::<_, UserRow>(&sql)
            .bind(user.username)
            .bind(user.email)
            .bind(user.password_hash)
            .bind(user.role.as_str())
            .bind(&user.profile.bio)
            .bind(&user.profile.website)
            .bind(&user.profile.full_name)
            .bind(&user.profile.phone)
            .bind(&user.profile.address)
            .bind(now_rfc3339())
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        append_in(
            &mut tx,
            &event
                .user(row.id.to_string())
                .detail("action", "account_created"),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A user by id.
    pub async fn by_id(&self, id: UserId) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A user by username, case-insensitively.
    pub async fn by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)");
        Ok(sqlx::query_as::<_, UserRow>(&sql)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Applies `changes` and returns the updated user (`None`: no such user).
    pub async fn update_profile(
        &self,
        id: UserId,
        changes: &ProfileChanges,
        event: &AuditEvent,
    ) -> Result<Option<UserRow>, StoreError> {
        self.changing(id, async {
            let mut tx = crate::store::begin_write(&self.pool).await?;
            // Each column is either kept (flag 0) or replaced by the bound value.
            let sql = format!(
                "UPDATE users SET \
                   username  = CASE WHEN $1 THEN $2 ELSE username END, \
                   email     = CASE WHEN $3 THEN $4 ELSE email END, \
                   bio       = CASE WHEN $5 THEN $6 ELSE bio END, \
                   website   = CASE WHEN $7 THEN $8 ELSE website END, \
                   full_name = CASE WHEN $9 THEN $10 ELSE full_name END, \
                   phone     = CASE WHEN $11 THEN $12 ELSE phone END, \
                   address   = CASE WHEN $13 THEN $14 ELSE address END \
                 WHERE id = $15 AND erased_at IS NULL RETURNING {USER_COLUMNS}"
            );
            let row = sqlx::query_as::<_, UserRow>(&sql)
                .bind(changes.username.is_some())
                .bind(&changes.username)
                .bind(changes.email.is_some())
                .bind(&changes.email)
                .bind(changes.bio.is_some())
                .bind(changes.bio.clone().flatten())
                .bind(changes.website.is_some())
                .bind(changes.website.clone().flatten())
                .bind(changes.full_name.is_some())
                .bind(changes.full_name.clone().flatten())
                .bind(changes.phone.is_some())
                .bind(changes.phone.clone().flatten())
                .bind(changes.address.is_some())
                .bind(changes.address.clone().flatten())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_write)?;
            if row.is_some() {
                append_in(&mut tx, event).await?;
                tx.commit().await?;
            }
            Ok(row)
        })
        .await
    }

    /// Deletes a user, its file rows and, by cascade, its sessions,
    /// recording `event` with it; returns the stored names of its files (the
    /// caller removes the bytes), or `None` when absent.
    pub async fn delete(
        &self,
        id: UserId,
        event: &AuditEvent,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.changing(
            id,
            audited(&self.pool, async |tx| {
                let files: Vec<String> =
                    sqlx::query_scalar("SELECT stored_name FROM files WHERE user_id = $1")
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                sqlx::query("DELETE FROM files WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(Change::Unchanged(None));
                }
                Ok(Change::Made(Some(files), event.clone()))
            }),
        )
        .await
    }

    /// Sets the role, records the event `event(previous role)` in the same
    /// transaction, and returns the user and its previous role.
    pub async fn set_role(
        &self,
        id: UserId,
        role: Role,
        event: impl FnOnce(Role) -> AuditEvent,
    ) -> Result<Option<(UserRow, Role)>, StoreError> {
        self.changing(
            id,
            audited(&self.pool, async |tx| {
                let before: Option<(String,)> =
                    sqlx::query_as("SELECT role FROM users WHERE id = $1 AND erased_at IS NULL")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((before,)) = before else {
                    return Ok(Change::Unchanged(None));
                };
                let sql =
                    format!("UPDATE users SET role = $1 WHERE id = $2 RETURNING {USER_COLUMNS}");
                let row = sqlx::query_as::<_, UserRow>(&sql)
                    .bind(role.as_str())
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let before = Role::parse(&before).unwrap_or(Role::User);
                Ok(Change::Made(Some((row, before)), event(before)))
            }),
        )
        .await
    }

    /// Replaces the password hash, bumps the token version and revokes
    /// every session: all tokens issued before stop working.
    pub async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.changing(id, audited(&self.pool, async |tx| {
            sqlx::query(
                "UPDATE users SET password_hash = $1, token_version = token_version + 1 WHERE id = $2",
            )
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            end_sessions_in(&mut *tx, id).await?;
            Ok(Change::Made((), event.clone()))
        }))
        .await
    }

    /// Opens a session with its first refresh token (stored as a hash).
    pub async fn create_session(
        &self,
        user_id: UserId,
        token_hash: &str,
        ttl_secs: i64,
        event: &AuditEvent,
    ) -> Result<String, StoreError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        let mut tx = crate::store::begin_write(&self.pool).await?;
        sqlx::query("INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(&session_id)
            .bind(user_id)
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(&session_id)
        .bind(unix_now().saturating_add(ttl_secs))
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(session_id)
    }

    /// Spends a refresh token and, when it was live, stores its successor
    /// in the same transaction. A spent token revokes its session.
    /// `refreshed` is recorded with a rotation, `reused` with a reuse, each
    /// completed with the user id, in the same transaction.
    pub async fn rotate_refresh(
        &self,
        token_hash: &str,
        next_hash: &str,
        ttl_secs: i64,
        refreshed: AuditEvent,
        reused: AuditEvent,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = crate::store::begin_write(&self.pool).await?;
        let found = sqlx::query_as::<_, RefreshRow>(
            "SELECT s.id AS session_id, s.user_id, s.revoked_at, t.spent_at, t.expires_at, u.erased_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(RefreshRow {
            session_id,
            user_id,
            revoked_at,
            spent_at,
            expires_at,
            erased_at,
        }) = found
        else {
            return Ok(RefreshOutcome::Invalid);
        };
        if spent_at.is_some() {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_rfc3339())
                .bind(&session_id)
                .execute(&mut *tx)
                .await?;
            let _forget = self.accounts.forget_on_drop(user_id);
            let entry = append_in(&mut tx, &reused.user(user_id.to_string())).await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Reused {
                entry: Box::new(entry),
            });
        }
        if revoked_at.is_some() || erased_at.is_some() || expires_at <= unix_now() {
            return Ok(RefreshOutcome::Invalid);
        }
        // The guard on spent_at makes a concurrent second use lose the race.
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET spent_at = $1 WHERE token_hash = $2 AND spent_at IS NULL",
        )
        .bind(now_rfc3339())
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            return Ok(RefreshOutcome::Invalid);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(next_hash)
        .bind(&session_id)
        .bind(unix_now().saturating_add(ttl_secs))
        .execute(&mut *tx)
        .await?;
        append_in(&mut tx, &refreshed.user(user_id.to_string())).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated {
            user_id,
            session_id,
        })
    }

    /// Revokes session `session_id` of `user` (logout) and records `event`
    /// with it.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.changing(user, audited(&self.pool, async |tx| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
            )
            .bind(now_rfc3339())
            .bind(session_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
            Ok(Change::Made((), event.clone()))
        }))
        .await
    }

    /// GDPR erasure: anonymises the account (`deleted_<id>`), makes the
    /// password unusable, ends every token and session, deletes the health
    /// record and file rows (returning the stored file names so the caller
    /// removes the bytes), and records `event` — all in one transaction.
    /// Orders and payments stay, attached to the now anonymous account.
    pub async fn erase(&self, id: UserId, event: &AuditEvent) -> Result<Vec<String>, StoreError> {
        self.changing(id, audited(&self.pool, async |tx| {
            let files: Vec<String> =
                sqlx::query_scalar("SELECT stored_name FROM files WHERE user_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            sqlx::query(
                "UPDATE users SET username = 'deleted_' || id, email = 'deleted_' || id || '@erased.invalid', \
                 password_hash = '!', bio = NULL, website = NULL, full_name = NULL, phone = NULL, address = NULL, \
                 internal_notes = NULL, token_version = token_version + 1, erased_at = $1 WHERE id = $2",
            )
            .bind(now_rfc3339())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            end_sessions_in(&mut *tx, id).await?;
            sqlx::query("DELETE FROM health_records WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM files WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok(Change::Made(files, event.clone()))
        }))
        .await
    }

    /// The account of `user_id` and whether its session `session_id` is
    /// live: from the cache when it has them, else from the database
    /// (filling the cache). `None`: no such account.
    pub async fn auth_state(
        &self,
        user_id: UserId,
        session_id: &str,
    ) -> Result<Option<SessionState>, StoreError> {
        let ticket = match self.accounts.session(user_id, session_id) {
            Ok(hit) => return Ok(Some(hit)),
            Err(ticket) => ticket,
        };
        let sql = format!(
            "SELECT {}, \
               CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.id = $1 AND s.user_id = users.id AND s.revoked_at IS NULL) \
                 THEN 1 ELSE 0 END AS session_live \
             FROM users WHERE id = $2",
            Account::COLUMNS
        );
        let Some(row) = sqlx::query_as::<_, SessionRow>(&sql)
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let account = std::sync::Arc::new(row.account);
        let live = row.session_live != 0;
        self.accounts
            .fill(ticket, &account, Some((session_id, live)));
        Ok(Some(SessionState { account, live }))
    }

    /// The account of `id` (no password hash): from the cache when it has
    /// it, else from the database (filling the cache).
    pub async fn account(&self, id: UserId) -> Result<Option<std::sync::Arc<Account>>, StoreError> {
        let ticket = match self.accounts.account(id) {
            Ok(hit) => return Ok(Some(hit)),
            Err(ticket) => ticket,
        };
        let sql = format!("SELECT {} FROM users WHERE id = $1", Account::COLUMNS);
        let Some(account) = sqlx::query_as::<_, Account>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let account = std::sync::Arc::new(account);
        self.accounts.fill(ticket, &account, None);
        Ok(Some(account))
    }
}

impl crate::store::Database {
    /// The users repository.
    pub fn users(&self) -> Users {
        Users::new(self.pool().clone(), self.accounts().clone())
    }
}
