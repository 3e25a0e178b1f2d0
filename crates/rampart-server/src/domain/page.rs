//! Keyset pagination: `limit` and an opaque `cursor` in, a page and the
//! next cursor out.

use base64::Engine as _;
use rampart::problem::FieldError;
use serde::Deserialize;
use utoipa::IntoParams;

/// `limit` and `cursor` of every list, as sent.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A valid page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items, 1–100.
    pub limit: u32,
    /// Only ids below this.
    pub before: Option<i64>,
}

impl PageRequest {
    /// Every row at once (the GDPR export), never from a client.
    pub const EVERYTHING: PageRequest = PageRequest {
        limit: u32::MAX - 1,
        before: None,
    };

    /// Validates `limit` (1–100) and decodes `cursor`; the errors make a 422.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, Vec<FieldError>> {
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
            Ok(Self { limit, before })
        } else {
            Err(errors)
        }
    }

    /// Splits a `limit + 1` keyset fetch into the page's views and the
    /// cursor of the next page (none when the extra row did not come back).
    pub fn split<R, V>(
        self,
        mut rows: Vec<R>,
        id: impl Fn(&R) -> i64,
        view: impl Fn(&R) -> V,
    ) -> (Vec<V>, Option<String>) {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|r| encode_cursor(id(r)))
        } else {
            None
        };
        (rows.iter().map(view).collect(), next)
    }
}

impl TryFrom<&PageQuery> for PageRequest {
    type Error = Vec<FieldError>;

    fn try_from(q: &PageQuery) -> Result<Self, Self::Error> {
        Self::parse(q.limit, q.cursor.as_deref())
    }
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
