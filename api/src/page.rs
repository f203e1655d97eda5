//! Keyset pagination with opaque cursors, and extractors whose refusals are problems.

use axum::{
    extract::{FromRequestParts, Path, Query},
    http::request::Parts,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::problem::Problem;

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most rows per page.
pub const MAX_LIMIT: i64 = 1000;

/// One page of a list, sorted by its key; `next_cursor` continues after the last row.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `rows` (fetched with `limit + 1` to know whether more follow), the cursor
    /// made from the last row's key.
    pub fn of<K: Serialize>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// An opaque cursor for a row key.
pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The key inside a cursor (an empty one starts at the beginning); a 400 problem when it was
/// not made by [`encode_cursor`] for `K`.
pub fn decode_cursor<K: DeserializeOwned>(cursor: Option<&str>) -> Result<Option<K>, Problem> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .map(Some)
        .ok_or_else(|| Problem::bad_request("cursor is not one this API issued").at("cursor"))
}

/// `limit` checked: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
pub fn limit(requested: Option<i64>) -> Result<i64, Problem> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(
            Problem::bad_request(format!("limit must be 1 to {MAX_LIMIT}, not {n}")).at("limit"),
        ),
    }
}

/// Text in Postgres cannot hold NUL: refuse it up front instead of failing the query.
fn refuse_nul(raw: &str) -> Result<(), Problem> {
    if raw.contains("%00") || raw.contains('\0') {
        return Err(Problem::bad_request(
            "parameters cannot contain NUL characters",
        ));
    }
    Ok(())
}

/// Ends a query of rows keyed (tenant_id, location_id, item_id): after the cursor's key, in key
/// order, one row more than `limit` (so [`Page::of`] knows whether more follow).
pub fn by_location_item(
    sql: &mut QueryBuilder<'_, Postgres>,
    tenant: &str,
    after: Option<(String, String)>,
    limit: i64,
) {
    if let Some((location, item)) = after {
        sql.push(" AND (tenant_id, location_id, item_id) > (")
            .push_bind(tenant.to_owned())
            .push(", ")
            .push_bind(location)
            .push(", ")
            .push_bind(item)
            .push(")");
    }
    sql.push(" ORDER BY location_id, item_id LIMIT ")
        .push_bind(limit + 1);
}

/// Query parameters; malformed ones are a 400 problem naming the parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        refuse_nul(parts.uri.query().unwrap_or_default())?;
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// Path segments; malformed ones are a 400 problem.
pub struct Segments<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segments<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        refuse_nul(parts.uri.path())?;
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Segments(t))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = encode_cursor(&("s01", "i0007"));
        assert_eq!(
            decode_cursor::<(String, String)>(Some(&c)).expect("valid"),
            Some(("s01".into(), "i0007".into()))
        );
        assert!(decode_cursor::<(String, String)>(Some("!!")).is_err());
        assert!(decode_cursor::<i64>(Some(&c)).is_err());
    }

    #[test]
    fn a_page_knows_whether_more_follow() {
        let p = Page::of(vec![1, 2, 3], 2, |r| *r);
        assert_eq!(p.items, [1, 2]);
        assert_eq!(p.next_cursor, Some(encode_cursor(&2)));
        assert_eq!(Page::of(vec![1, 2], 2, |r| *r).next_cursor, None);
        assert!(limit(Some(0)).is_err() && limit(Some(1001)).is_err());
    }
}
