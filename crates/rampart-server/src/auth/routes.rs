//! `/api/v2/auth/…`: registration, login, refresh rotation, logout,
//! password change.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rampart::{
    audit::EventType, client_ip::ClientIp, input::StrictJson, lockout::LoginGuard, password::Slot,
    problem::Problem,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::{
        Email, Errors, Password, Role, Username, parse_bio, parse_multiline, parse_phone,
        parse_text, parse_website, single_line,
    },
    http::error::{ApiError, Result},
    state::AppState,
    users::{
        routes::SelfUser,
        store::{NewUser, Profile, RefreshOutcome, UserRow},
    },
};

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// 3–50 of `[A-Za-z0-9_]`; `admin`, `root`, `system`, `api` and names
    /// beginning `deleted_` are reserved.
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_]{3,50}$")]
    pub username: String,
    /// Email address (not `@erased.invalid`).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 12–128 characters, hard to guess.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// ≤ 500 characters; HTML is reduced to `p br strong em`.
    #[schema(max_length = 500)]
    pub bio: Option<String>,
    /// Absolute http(s) URL.
    #[schema(format = "uri", max_length = 2048)]
    pub website: Option<String>,
    /// ≤ 100 characters, one line.
    #[schema(max_length = 100)]
    pub full_name: Option<String>,
    /// Digits, spaces, `+ ( ) - .`.
    #[schema(max_length = 32, pattern = "^[0-9 +().-]*[0-9][0-9 +().-]*$")]
    pub phone: Option<String>,
    /// ≤ 200 characters.
    #[schema(max_length = 200)]
    pub address: Option<String>,
}

struct Registration {
    username: Username,
    email: Email,
    password: Password,
    profile: Profile,
}

impl TryFrom<Register> for Registration {
    type Error = Vec<rampart::problem::FieldError>;

    fn try_from(r: Register) -> std::result::Result<Self, Self::Error> {
        let mut e = Errors::default();
        let username = e.check("username", Username::parse(&r.username));
        let email = e.check("email", Email::parse(&r.email));
        let password = e.check(
            "password",
            Password::parse(&r.password, &[&r.username, &r.email]),
        );
        let bio = r.bio.map(|b| e.check("bio", parse_bio(&b)));
        let website = r.website.map(|w| e.check("website", parse_website(&w)));
        let full_name = r
            .full_name
            .map(|n| e.check("full_name", parse_text(&n, 100)));
        let phone = r.phone.map(|p| e.check("phone", parse_phone(&p)));
        let address = r
            .address
            .map(|a| e.check("address", parse_multiline(&a, 200)));
        e.finish(|| {
            Some(Registration {
                username: username?,
                email: email?,
                password: password?,
                profile: Profile {
                    bio: bio.flatten(),
                    website: website.flatten(),
                    full_name: full_name.flatten(),
                    phone: phone.flatten(),
                    address: address.flatten(),
                },
            })
        })
    }
}

/// Creates an account with the `user` role.
#[utoipa::path(post, operation_id = "registerUser", path = "/api/v2/auth/register", tag = "auth",
    request_body = Register,
    responses(
        (status = 201, body = SelfUser),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username or email taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every password-hashing slot is taken; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    StrictJson(body): StrictJson<Register>,
) -> Result<Response> {
    let reg = Registration::try_from(body).map_err(Problem::validation)?;
    let hash = state
        .hasher
        .slot()?
        .hash(reg.password.into_secret())
        .await?;
    let user = state
        .db
        .users()
        .insert(
            &NewUser {
                username: reg.username.as_str(),
                email: reg.email.as_str(),
                password_hash: &hash,
                role: Role::User,
                profile: reg.profile,
            },
            ctx.event(EventType::DataModification),
        )
        .await?;
    let location = HeaderValue::from_str(&format!("/api/v2/users/{}", user.id)).ok();
    let mut response = (StatusCode::CREATED, Json(SelfUser::from(&user))).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A token pair, from login and refresh alike.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque, single-use; exchange at `/auth/refresh`.
    pub refresh_token: String,
}

/// The one answer to every failed login, whatever failed.
fn login_failed() -> ApiError {
    ApiError::from(
        Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail("The username or password is incorrect."),
    )
}

fn new_refresh_token() -> (String, String) {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

fn refresh_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn refresh_ttl(state: &AppState) -> i64 {
    i64::try_from(state.settings.sessions.refresh_token_ttl.as_secs()).unwrap_or(i64::MAX)
}

fn token_pair(
    state: &AppState,
    user: &UserRow,
    session_id: &str,
    refresh_token: String,
) -> Result<Json<TokenPair>> {
    let issued = state
        .jwt
        .issue(
            &user.id.to_string(),
            Some(session_id),
            Some(user.token_version),
        )
        .map_err(ApiError::internal)?;
    Ok(Json(TokenPair {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: state.jwt.ttl().as_secs(),
        refresh_token,
    }))
}

/// Exchanges a username and password for a token pair. Unknown users and
/// wrong passwords get the same 401 after the same work.
#[utoipa::path(post, operation_id = "login", path = "/api/v2/auth/login", tag = "auth",
    request_body = Login,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Account locked or address blocked; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Lockout state unavailable, or every password-hashing slot is taken (see Retry-After)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    StrictJson(body): StrictJson<Login>,
) -> Result<Response> {
    if let Err(m) = single_line(&body.username) {
        return Err(
            Problem::validation(vec![rampart::problem::FieldError::new("username", m)]).into(),
        );
    }
    // A hashing slot first: a login refused for capacity (503) has read
    // nothing and counted nothing against the account.
    let slot = state.hasher.slot()?;
    let address = ctx.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let users = state.db.users();
    // A name outside the username grammar names no account: no lookup, but
    // still a counted failure (the lockout keys long names by digest, the
    // trail keeps them truncated).
    let user = if Username::fits_grammar(&body.username) {
        users
            .by_username(&body.username)
            .await?
            .filter(|u| u.erased_at.is_none())
    } else {
        None
    };
    let user_id = user.as_ref().map(|u| u.id.to_string());
    let failure = |reason: &str| {
        let mut e = ctx
            .event(EventType::LoginFailure)
            .detail("username", body.username.as_str())
            .detail("reason", reason);
        e.user_id = user_id.clone();
        e
    };
    // The rate key groups an IPv6 client's /64, like the per-IP limit.
    let lock_key = rate_key(&ctx);
    // The attempt is counted before the password is checked, so a burst
    // of guesses cannot all pass the gate before any failure is recorded.
    let attempt = match state
        .lockout
        .reserve(&lock_subject(&body.username, user.as_ref()), &lock_key)
        .await
    {
        Ok(gate) => match gate.admit() {
            Ok(attempt) => attempt,
            Err(refused) => {
                // Refused without hashing: the slot is free for others
                // during the audit write.
                drop(slot);
                state.metrics.auth_failure(refused.reason());
                state.audit.record(failure(refused.reason())).await?;
                return Ok(refused.into_response());
            }
        },
        Err(e) => return Err(lockout_unavailable(&e)),
    };
    let verdict = slot
        .verify(
            body.password.into(),
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await;
    drop(slot);
    let Some(user) = user.filter(|_| verdict == Ok(true)) else {
        // A hash that waited too long (503) leaves the attempt counted,
        // like a failure: its outcome is unknown, and a lockout that
        // gave it back could be reset by whoever fills the queue.
        let reason = if verdict.is_err() {
            "hashing_unavailable"
        } else {
            "bad_credentials"
        };
        let outcome = attempt.failed();
        state.metrics.auth_failure(reason);
        state.audit.record(failure(reason)).await?;
        if let Some(lock) = outcome.locked_for {
            state
                .audit
                .record(account_locked(&ctx, user_id.clone(), &body.username, lock))
                .await?;
        }
        if outcome.address_blocked {
            state
                .audit
                .record(
                    ctx.event(EventType::SecurityViolation)
                        .detail("reason", "possible_brute_force")
                        .detail("address", address.as_str()),
                )
                .await?;
        }
        return Err(match verdict {
            Err(busy) => busy.into(),
            Ok(_) => login_failed(),
        });
    };
    state
        .lockout
        .succeeded(attempt)
        .await
        .map_err(|e| lockout_unavailable(&e))?;
    let (refresh_token, hash) = new_refresh_token();
    let event = ctx
        .event(EventType::LoginSuccess)
        .user(user.id.to_string())
        .detail("username", user.username.as_str());
    let session = users
        .create_session(user.id, &hash, refresh_ttl(&state), &event)
        .await?;
    Ok(token_pair(&state, &user, &session, refresh_token)?.into_response())
}

/// The `account_locked` event of a failure that locked `username`.
fn account_locked(
    ctx: &Ctx,
    user_id: Option<String>,
    username: &str,
    lock: std::time::Duration,
) -> rampart::audit::AuditEvent {
    let mut e = ctx
        .event(EventType::AccountLocked)
        .detail("username", username)
        .detail("lock_secs", lock.as_secs());
    e.user_id = user_id;
    e
}

/// What the per-account lockout counts under: an existing account by its
/// id (so renaming it does not reset the count, and every spelling of its
/// name shares one), an unknown name by the name. The prefixes keep a
/// name from ever posing as an id.
fn lock_subject(username: &str, user: Option<&UserRow>) -> String {
    match user {
        Some(u) => format!("uid:{}", u.id),
        None => format!("name:{username}"),
    }
}

/// Lockout fails closed: without it, guessing would be unlimited.
fn lockout_unavailable(e: &rampart::lockout::LockoutUnavailable) -> ApiError {
    tracing::error!(error = %e, "login refused: lockout store unavailable");
    ApiError::Response(Box::new(e.clone().into_response()))
}

fn rate_key(ctx: &Ctx) -> String {
    ctx.ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |ip| ClientIp(ip).rate_key().to_string(),
        )
}

/// Checks an account's current password (`/auth/password`, `/me/erase`)
/// under the same per-account lockout as login, so a stolen session cannot
/// guess it without limit: `Ok(None)` when it is right, `Ok(Some(answer))`
/// with the 403 (wrong) or 429 (locked) to send otherwise.
pub async fn verify_current_password(
    state: &AppState,
    slot: &Slot,
    ctx: &Ctx,
    user: &UserRow,
    password: String,
) -> Result<Option<Response>> {
    let lock_key = rate_key(ctx);
    let attempt = match state
        .lockout
        .reserve(&lock_subject(&user.username, Some(user)), &lock_key)
        .await
    {
        Ok(gate) => match gate.admit() {
            Ok(attempt) => attempt,
            Err(refused) => {
                state.metrics.auth_failure("account_locked");
                return Ok(Some(refused.response_with(
                    "Too many wrong passwords for this account; retry later.",
                )));
            }
        },
        Err(e) => return Err(lockout_unavailable(&e)),
    };
    let verdict = slot
        .verify(password.into(), Some(&user.password_hash))
        .await;
    if verdict == Ok(true) {
        state
            .lockout
            .succeeded(attempt)
            .await
            .map_err(|e| lockout_unavailable(&e))?;
        return Ok(None);
    }
    let outcome = attempt.failed();
    if let Some(lock) = outcome.locked_for {
        state
            .audit
            .record(account_locked(
                ctx,
                Some(user.id.to_string()),
                &user.username,
                lock,
            ))
            .await?;
    }
    // A hash that waited too long stays counted, as at login.
    if let Err(busy) = verdict {
        return Err(busy.into());
    }
    Ok(Some(
        Problem::new(StatusCode::FORBIDDEN)
            .with_detail("The current password is incorrect.")
            .into_response(),
    ))
}

/// `POST /auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

fn invalid_refresh() -> ApiError {
    ApiError::from(
        Problem::new(StatusCode::UNAUTHORIZED).with_detail("The refresh token is not valid."),
    )
}

/// Rotates a refresh token: the old one is spent, a new pair is issued.
/// Presenting a spent token revokes its whole session.
#[utoipa::path(post, operation_id = "refreshTokens", path = "/api/v2/auth/refresh", tag = "auth",
    request_body = Refresh,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ctx: Ctx,
    StrictJson(body): StrictJson<Refresh>,
) -> Result<Json<TokenPair>> {
    let users = state.db.users();
    let (next_token, next_hash) = new_refresh_token();
    let refreshed = ctx.event(EventType::TokenRefresh);
    let reused = ctx
        .event(EventType::SecurityViolation)
        .detail("reason", "refresh_token_reuse");
    let outcome = users
        .rotate_refresh(
            &refresh_hash(&body.refresh_token),
            &next_hash,
            refresh_ttl(&state),
            refreshed,
            reused,
        )
        .await?;
    match outcome {
        RefreshOutcome::Rotated {
            user_id,
            session_id,
        } => {
            let user = users.by_id(user_id).await?.ok_or_else(invalid_refresh)?;
            token_pair(&state, &user, &session_id, next_token)
        }
        RefreshOutcome::Reused { entry } => {
            // A spent refresh token was presented: its session is revoked.
            state.audit.committed(&entry);
            Err(invalid_refresh())
        }
        RefreshOutcome::Invalid => Err(invalid_refresh()),
    }
}

/// Ends the session: the access token and its refresh tokens stop working.
#[utoipa::path(post, operation_id = "logout", path = "/api/v2/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(State(state): State<AppState>, ctx: Ctx, caller: Caller) -> Result<StatusCode> {
    let event = ctx.event(EventType::Logout).user(caller.id);
    let users = state.db.users();
    match &caller.session() {
        Some(session) => users.revoke_session(caller.id, session, &event).await?,
        None => state.audit.record(event).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new password (12–128 characters, hard to guess).
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// Changes the password; every token issued before stops working.
#[utoipa::path(post, operation_id = "changePassword", path = "/api/v2/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every password-hashing slot is taken; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    caller: Caller,
    StrictJson(body): StrictJson<PasswordChange>,
) -> Result<Response> {
    let users = state.db.users();
    let id = caller.id;
    let user = users.by_id(id).await?.ok_or_else(login_failed)?;
    let new_password = Password::parse(&body.new_password, &[&user.username, &user.email])
        .map_err(|m| {
            Problem::validation(vec![rampart::problem::FieldError::new("new_password", m)])
        })?;
    // One slot for both hashes: the check of the old password and the
    // hash of the new one.
    let slot = state.hasher.slot()?;
    if let Some(refused) =
        verify_current_password(&state, &slot, &ctx, &user, body.current_password).await?
    {
        return Ok(refused);
    }
    let hash = slot.hash(new_password.into_secret()).await?;
    drop(slot);
    users
        .set_password(
            id,
            &hash,
            &ctx.event(EventType::PasswordChange).user(id.to_string()),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
