//! `/api/v2/users…` and `/api/v2/admin/users/{id}/role`.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use rampart::{
    audit::EventType,
    input::{Path, Query, StrictJson},
    problem::{FieldError, Problem},
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::{Account, UserId},
    domain::{
        Email, Errors, Role, Username, parse_bio, parse_multiline, parse_phone, parse_text,
        parse_website,
    },
    http::error::Result,
    state::AppState,
    users::store::{ProfileChanges, UserRow},
};

/// What anyone signed in may see of a user. Exactly these keys (the schema
/// says so: `additionalProperties: false`), so a self view never matches it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicUser {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Sanitised bio (`p br strong em`).
    pub bio: Option<String>,
    /// Website.
    pub website: Option<String>,
}

impl From<&UserRow> for PublicUser {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id.get(),
            username: u.username.clone(),
            bio: u.bio.clone(),
            website: u.website.clone(),
        }
    }
}

/// `GET /users/{id}`: the self view for the account itself and admins,
/// the public view for everyone else (documentation only: the handler
/// answers one of the two).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserView {
    /// The account's own view.
    Own(SelfUser),
    /// Anyone else's view.
    Other(PublicUser),
}

/// What a user (and an admin) sees of the user's own account.
#[derive(Debug, Serialize, ToSchema)]
pub struct SelfUser {
    /// Id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Sanitised bio.
    pub bio: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Full name.
    pub full_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&UserRow> for SelfUser {
    fn from(u: &UserRow) -> Self {
        Self::from(&u.account)
    }
}

impl From<&Account> for SelfUser {
    fn from(u: &Account) -> Self {
        Self {
            id: u.id.get(),
            username: u.username.clone(),
            bio: u.bio.clone(),
            website: u.website.clone(),
            email: u.email.clone(),
            role: u.role,
            full_name: u.full_name.clone(),
            phone: u.phone.clone(),
            address: u.address.clone(),
            created_at: u.created_at.clone(),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub items: Vec<PublicUser>,
    /// Always null: an exact-match lookup has at most one result.
    pub next_cursor: Option<String>,
}

fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND)
}

async fn load(state: &AppState, id: UserId) -> Result<UserRow> {
    Ok(state.db.users().by_id(id).await?.ok_or_else(not_found)?)
}

/// The caller's own account.
#[utoipa::path(get, operation_id = "getCurrentUser", path = "/api/v2/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = SelfUser),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<SelfUser>> {
    let account = state.db.users().account(caller.id).await?;
    Ok(Json(SelfUser::from(&*account.ok_or_else(not_found)?)))
}

/// A user: the self view for the user and admins, the public view for others.
#[utoipa::path(get, operation_id = "getUser", path = "/api/v2/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "Self view (own account, admins) or public view", body = UserView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<UserId>,
) -> Result<axum::response::Response> {
    let user = load(&state, id).await?;
    if caller.is(id) || caller.role == Role::Admin {
        Ok(Json(SelfUser::from(&user)).into_response())
    } else {
        Ok(Json(PublicUser::from(&user)).into_response())
    }
}

/// Query of `GET /users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Exact username (case-insensitive).
    pub username: String,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Exact-match lookup by username.
#[utoipa::path(get, operation_id = "findUsersByUsername", path = "/api/v2/users", tag = "users", security(("bearer" = [])),
    params(UserQuery),
    responses(
        (status = 200, body = UserPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn find_users(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<UserQuery>,
) -> Result<Json<UserPage>> {
    let mut errors = Vec::new();
    if q.limit.is_some_and(|l| !(1..=100).contains(&l)) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    if q.cursor.is_some() {
        // An exact match never has a second page, so no cursor is valid.
        errors.push(FieldError::new("cursor", "is not a valid cursor"));
    }
    if !errors.is_empty() {
        return Err(crate::http::error::invalid_query(errors));
    }
    // Only a name of the username grammar can match an account.
    if !Username::fits_grammar(&q.username) {
        return Ok(Json(UserPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let found = state.db.users().by_username(&q.username).await?;
    Ok(Json(UserPage {
        items: found
            .iter()
            .filter(|u| u.erased_at.is_none())
            .map(PublicUser::from)
            .collect(),
        next_cursor: None,
    }))
}

/// `Some(None)` for an explicit `null`, `None` when absent (with `default`).
fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /users/{id}`: only these fields; any other is 422.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    /// New username (never null).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_]{3,50}$")]
    pub username: Option<Option<String>>,
    /// New email (never null).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = String, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    /// Bio; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub bio: Option<Option<String>>,
    /// Website; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub website: Option<Option<String>>,
    /// Full name; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub full_name: Option<Option<String>>,
    /// Phone; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 32, pattern = "^[0-9 +().-]*[0-9][0-9 +().-]*$")]
    pub phone: Option<Option<String>>,
    /// Address; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub address: Option<Option<String>>,
}

fn optional<T>(
    errors: &mut Errors,
    field: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Option<Option<T>> {
    match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) => errors.check(field, parse(&v)).map(Some),
    }
}

impl TryFrom<PatchUser> for ProfileChanges {
    type Error = Vec<FieldError>;

    fn try_from(p: PatchUser) -> std::result::Result<Self, Self::Error> {
        let mut errors = Errors::default();
        let required =
            |errors: &mut Errors,
             field: &str,
             v: Option<Option<String>>,
             parse: &dyn Fn(&str) -> std::result::Result<String, &'static str>| match v
            {
                None => None,
                Some(None) => errors
                    .check::<String, _>(field, Err("must not be null"))
                    .map(Some),
                Some(Some(v)) => errors.check(field, parse(&v)).map(Some),
            };
        let username = required(&mut errors, "username", p.username, &|s| {
            Username::parse(s).map(|u| u.as_str().to_owned())
        });
        let email = required(&mut errors, "email", p.email, &|s| {
            Email::parse(s).map(|e| e.as_str().to_owned())
        });
        let bio = optional(&mut errors, "bio", p.bio, |s| {
            parse_bio(s).map_err(str::to_owned)
        });
        let website = optional(&mut errors, "website", p.website, |s| {
            parse_website(s).map_err(str::to_owned)
        });
        let full_name = optional(&mut errors, "full_name", p.full_name, |s| {
            parse_text(s, 100)
        });
        let phone = optional(&mut errors, "phone", p.phone, |s| {
            parse_phone(s).map_err(str::to_owned)
        });
        let address = optional(&mut errors, "address", p.address, |s| {
            parse_multiline(s, 200)
        });
        errors.finish(|| {
            Some(ProfileChanges {
                username: username.flatten(),
                email: email.flatten(),
                bio,
                website,
                full_name,
                phone,
                address,
            })
        })
    }
}

/// Updates a profile (the user or an admin). Returns the self view.
#[utoipa::path(patch, operation_id = "updateUser", path = "/api/v2/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = PatchUser,
    responses(
        (status = 200, body = SelfUser),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(id): Path<UserId>,
    StrictJson(body): StrictJson<PatchUser>,
) -> Result<Json<SelfUser>> {
    caller.require_self_or_role(id, &[Role::Admin]).await?;
    let changes = ProfileChanges::try_from(body).map_err(Problem::validation)?;
    let event = ctx
        .event(EventType::DataModification)
        .user(caller.id)
        .detail("target_user", id)
        .detail("fields", changed_fields(&changes));
    let user = state
        .db
        .users()
        .update_profile(id, &changes, &event)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(SelfUser::from(&user)))
}

/// Deletes a user (admins only; not yourself).
#[utoipa::path(delete, operation_id = "deleteUser", path = "/api/v2/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An admin cannot delete itself", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(id): Path<UserId>,
) -> Result<StatusCode> {
    caller.require_role(&[Role::Admin]).await?;
    if caller.is(id) {
        return Err(Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("You cannot delete your own account here.")
            .into());
    }
    let event = ctx
        .event(EventType::DataModification)
        .user(caller.id)
        .detail("action", "user_deleted")
        .detail("target_user", id);
    let Some(files) = state.db.users().delete(id, &event).await? else {
        return Err(not_found().into());
    };
    // The rows went with the account; the bytes go too.
    let dir = state.settings.storage.upload_dir();
    for name in files {
        let _ = tokio::fs::remove_file(dir.join(name)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// Changes a user's role (admins only; audited as a permission change).
#[utoipa::path(put, operation_id = "setUserRole", path = "/api/v2/admin/users/{id}/role", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = RoleChange,
    responses(
        (status = 200, body = SelfUser),
        (status = 400, description = "An admin cannot change its own role", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(id): Path<UserId>,
    StrictJson(body): StrictJson<RoleChange>,
) -> Result<Json<SelfUser>> {
    caller.require_role(&[Role::Admin]).await?;
    if caller.is(id) {
        // The last admin demoting itself would lock everyone out.
        return Err(Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("You cannot change your own role.")
            .into());
    }
    let event = |before: Role| {
        ctx.event(EventType::PermissionChange)
            .user(caller.id)
            .detail("target_user", id)
            .detail("from", before.as_str())
            .detail("to", body.role.as_str())
    };
    let (user, _) = state
        .db
        .users()
        .set_role(id, body.role, event)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(SelfUser::from(&user)))
}

fn changed_fields(c: &ProfileChanges) -> Vec<&'static str> {
    [
        ("username", c.username.is_some()),
        ("email", c.email.is_some()),
        ("bio", c.bio.is_some()),
        ("website", c.website.is_some()),
        ("full_name", c.full_name.is_some()),
        ("phone", c.phone.is_some()),
        ("address", c.address.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}
