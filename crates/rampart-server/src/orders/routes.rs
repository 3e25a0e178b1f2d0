//! Orders and search: object-level authorization made concrete.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rampart::{
    audit::EventType,
    input::{Path, Query, ValidJson, Validate},
    problem::{FieldError, Problem},
    ratelimit::{self, Quota},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::events::Ctx,
    domain::Role,
    http::error::{ApiError, Result},
    orders::store::OrderRow,
    state::{AppState, Auth, caller_id},
};

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// Owner (null once the owner's account is gone).
    pub user_id: Option<i64>,
    /// Item.
    pub item: String,
    /// 1–1000.
    pub quantity: i64,
    /// 0–10 000 000.
    pub unit_price_cents: i64,
    /// quantity × unit price, computed by the server.
    pub total_cents: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&OrderRow> for Order {
    fn from(o: &OrderRow) -> Self {
        Self {
            id: o.id,
            user_id: o.user_id,
            item: o.item.clone(),
            quantity: o.quantity,
            unit_price_cents: o.unit_price_cents,
            total_cents: o.total_cents,
            created_at: o.created_at.clone(),
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Newest first.
    pub items: Vec<Order>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `POST /users/{id}/orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// 1–200 characters, one line.
    #[schema(min_length = 1, max_length = 200)]
    pub item: String,
    /// 1–1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
    /// 0–10 000 000.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub unit_price_cents: i64,
}

impl Validate for NewOrder {
    fn validate(&self) -> std::result::Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let len = self.item.chars().count();
        if !(1..=200).contains(&len) || self.item.trim().is_empty() {
            errors.push(FieldError::new("item", "must be 1 to 200 characters"));
        } else if self.item.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "item",
                "must not contain control characters",
            ));
        }
        if !(1..=1000).contains(&self.quantity) {
            errors.push(FieldError::new("quantity", "must be between 1 and 1000"));
        }
        if !(0..=10_000_000).contains(&self.unit_price_cents) {
            errors.push(FieldError::new(
                "unit_price_cents",
                "must be between 0 and 10000000",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// `limit` and `cursor` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A validated page request.
pub struct Page {
    /// How many items.
    pub limit: u32,
    /// Only ids below this.
    pub before: Option<i64>,
}

/// Validates `limit` (1–100) and decodes `cursor`; the errors make a 422.
pub fn page(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> std::result::Result<Page, Vec<FieldError>> {
    let mut errors = Vec::new();
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    let before = match cursor {
        None => None,
        Some(c) => {
            let id = decode_cursor(c);
            if id.is_none() {
                errors.push(FieldError::new("cursor", "is not a valid cursor"));
            }
            id
        }
    };
    if errors.is_empty() {
        Ok(Page { limit, before })
    } else {
        Err(errors)
    }
}

/// The 422 for invalid `limit`/`cursor` (and other query) parameters.
pub fn invalid_query(errors: Vec<FieldError>) -> ApiError {
    Problem::validation(errors)
        .with_detail(rampart::input::QUERY_INVALID)
        .into()
}

/// The opaque cursor for the page after the item with `id`.
pub fn encode_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("o:")?
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
}

/// Splits a `limit + 1` keyset fetch into the page's views and the cursor
/// of the next page (none when the extra row did not come back).
pub fn split_page<R, V>(
    mut rows: Vec<R>,
    limit: u32,
    id: impl Fn(&R) -> i64,
    view: impl Fn(&R) -> V,
) -> (Vec<V>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| encode_cursor(id(r)))
    } else {
        None
    };
    (rows.iter().map(view).collect(), next)
}

fn to_page(rows: Vec<OrderRow>, limit: u32) -> OrderPage {
    let (items, next_cursor) = split_page(rows, limit, |o| o.id, |o| Order::from(o));
    OrderPage { items, next_cursor }
}

/// Places an order for yourself.
#[utoipa::path(post, operation_id = "createOrder", path = "/api/v2/users/{id}/orders", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id (must be the caller)")),
    request_body = NewOrder,
    responses(
        (status = 201, body = Order),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_order(
    State(state): State<AppState>,
    auth: Auth,
    ctx: Ctx,
    Path(user_id): Path<i64>,
    ValidJson(body): ValidJson<NewOrder>,
) -> Result<Response> {
    auth.require_self_or_role(&user_id.to_string(), &[]).await?;
    let event = ctx
        .event(EventType::DataModification)
        .user(user_id.to_string())
        .detail("action", "order_created");
    let order = state
        .db
        .orders()
        .insert(
            user_id,
            &body.item,
            body.quantity,
            body.unit_price_cents,
            event,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Order::from(&order))).into_response())
}

/// A user's orders (the user or an admin), newest first.
#[utoipa::path(get, operation_id = "listOrders", path = "/api/v2/users/{id}/orders", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id"), PageQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_orders(
    State(state): State<AppState>,
    auth: Auth,
    Path(user_id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Json<OrderPage>> {
    auth.require_self_or_role(&user_id.to_string(), &[Role::Admin])
        .await?;
    let page = page(q.limit, q.cursor.as_deref()).map_err(invalid_query)?;
    let rows = state
        .db
        .orders()
        .page(user_id, page.before, page.limit)
        .await?;
    Ok(Json(to_page(rows, page.limit)))
}

/// One order (its owner or an admin; 404 for everyone else).
#[utoipa::path(get, operation_id = "getOrder", path = "/api/v2/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, body = Order),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_order(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<i64>,
) -> Result<Json<Order>> {
    let order = state
        .db
        .orders()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    let owner = order.user_id.map(|u| u.to_string()).unwrap_or_default();
    auth.require_owner_or_role(&owner, &[Role::Admin]).await?;
    Ok(Json(Order::from(&order)))
}

/// Query of `GET /search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// 1–100 characters, matched literally (`%`, `_`, quotes included).
    #[param(min_length = 1, max_length = 100)]
    pub q: String,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Substring search over the caller's own orders, limited per user.
#[utoipa::path(get, operation_id = "searchOrders", path = "/api/v2/search", tag = "orders", security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, body = OrderPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Search limit reached; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    let len = q.q.chars().count();
    let page = match (page(q.limit, q.cursor.as_deref()), (1..=100).contains(&len)) {
        (Ok(p), true) => p,
        (result, q_ok) => {
            let mut errors = result.err().unwrap_or_default();
            if !q_ok {
                errors.insert(0, FieldError::new("q", "must be 1 to 100 characters"));
            }
            return Err(invalid_query(errors));
        }
    };
    let user_id = caller_id(&auth)?;
    let quota = Quota::per_minute(state.settings.search_limit_per_min);
    let decision =
        match ratelimit::check(&*state.limiter, &format!("search:user:{user_id}"), &quota).await {
            Ok(Ok(decision)) => Some(decision),
            Ok(Err(limited)) => return Ok(limited.into_response()),
            // Like every other limit: a missing store is a pass only when
            // the operator chose fail-open, else a 503 (never a 500).
            Err(e) if state.settings.rate_limit_fail_open => {
                tracing::warn!(error = %e, "search limit skipped: store unavailable");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "search refused: rate-limit store unavailable");
                return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE).into());
            }
        };
    let rows = state
        .db
        .orders()
        .search(user_id, &q.q, page.before, page.limit)
        .await?;
    Ok((decision, Json(to_page(rows, page.limit))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        for bad in ["zzz", "", "bzotMQ", "eDo0Mg"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
