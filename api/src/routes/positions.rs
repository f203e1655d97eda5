//! `/v1/positions`: current stock per item-location.

use axum::{
    Extension, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Column, Postgres, QueryBuilder, Row, postgres::PgRow};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, by_location_item, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Position routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/positions", get(list))
        .route("/v1/positions/{location_id}/{item_id}", get(one))
}

/// The stock buckets of one item-location.
#[derive(Debug, Serialize, ToSchema)]
pub struct Position {
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// Version; grows with every change.
    pub sequence: i64,
    /// Units at the location.
    pub on_hand: i64,
    /// Open purchase order quantity.
    pub on_order: i64,
    /// Inbound transfer quantity.
    pub in_transit: i64,
    /// Reserved units.
    pub reserved: i64,
    /// Damaged units.
    pub damaged: i64,
    /// Backordered units.
    pub backordered: i64,
    /// max(0, on_hand − reserved − damaged).
    pub available: i64,
    /// Inventory position.
    pub inventory_position: i64,
    /// Reorder point of the rule, if any.
    pub reorder_point: Option<i64>,
    /// Moving-average unit cost, decimal text.
    pub valuation_rate: String,
    /// on_hand × valuation_rate, decimal text.
    pub stock_value: String,
    /// on_hand is negative.
    pub negative_on_hand: bool,
    /// Business time of the latest change.
    pub as_of: DateTime<Utc>,
}

/// The columns read, in [`Position`]'s field order: the buckets (docs/domain.md, Stock buckets)
/// come in [`composerp_events::Buckets::NAMES`] order.
const COLUMNS: &str = "location_id, item_id, sequence, on_hand, on_order, in_transit, reserved, \
    damaged, backordered, available, inventory_position, reorder_point, \
    valuation_rate::text AS valuation_rate, stock_value::text AS stock_value, negative_on_hand, \
    occurred_at AS as_of";

/// Decodes a row of [`COLUMNS`] by column index rather than by name: a page decodes 1,600
/// fields, and looking each up by name costs a tenth of the API's time. Debug builds (the tests)
/// check every name.
impl<'r> sqlx::FromRow<'r, PgRow> for Position {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        macro_rules! col {
            ($i:literal, $name:literal) => {{
                debug_assert_eq!(row.column($i).name(), $name);
                row.try_get($i)?
            }};
        }
        Ok(Position {
            location_id: col!(0, "location_id"),
            item_id: col!(1, "item_id"),
            sequence: col!(2, "sequence"),
            on_hand: col!(3, "on_hand"),
            on_order: col!(4, "on_order"),
            in_transit: col!(5, "in_transit"),
            reserved: col!(6, "reserved"),
            damaged: col!(7, "damaged"),
            backordered: col!(8, "backordered"),
            available: col!(9, "available"),
            inventory_position: col!(10, "inventory_position"),
            reorder_point: col!(11, "reorder_point"),
            valuation_rate: col!(12, "valuation_rate"),
            stock_value: col!(13, "stock_value"),
            negative_on_hand: col!(14, "negative_on_hand"),
            as_of: col!(15, "as_of"),
        })
    }
}

/// Filters of the position list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only positions whose available stock is below the reorder point.
    #[serde(default)]
    pub below_reorder_point: bool,
    /// Only positions with negative on hand.
    #[serde(default)]
    pub negative: bool,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Positions of the caller's tenant, sorted by location then item.
#[utoipa::path(get, path = "/v1/positions", tag = "positions", params(ListParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "One page", body = Page<Position>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<ListParams>,
) -> ApiResult<Response> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(String, String)> = decode_cursor(q.cursor.as_deref())?;
    // Only the filters given, so every variant gets its own good plan (a generic plan of
    // "$2 IS NULL OR location_id = $2" scans the whole tenant).
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM inventory.positions WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    if let Some(l) = &q.location_id {
        sql.push(" AND location_id = ").push_bind(l);
    }
    if let Some(i) = &q.item_id {
        sql.push(" AND item_id = ").push_bind(i);
    }
    if q.below_reorder_point {
        sql.push(" AND available < reorder_point");
    }
    if q.negative {
        sql.push(" AND negative_on_hand");
    }
    by_location_item(&mut sql, &p.tenant, after, limit);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<Position> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    // Written into one buffer sized for the page (a position is about 450 bytes of JSON),
    // not grown from a few bytes by doubling.
    let mut body = Vec::with_capacity(64 + rows.len() * 512);
    let page = Page::of(rows, limit, |r| (r.location_id.clone(), r.item_id.clone()));
    serde_json::to_writer(&mut body, &page).map_err(|_| Problem::internal())?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One position; its ETag is its sequence, so `If-None-Match` answers 304 when unchanged.
#[utoipa::path(get, path = "/v1/positions/{location_id}/{item_id}", tag = "positions",
    params(("location_id" = String, Path, description = "Location"), ("item_id" = String, Path, description = "Item")),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The position", body = Position),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 404, description = "No such position", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn one(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((location_id, item_id)): Segments<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require(&p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let row: Option<Position> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM inventory.positions \
         WHERE tenant_id = $1 AND location_id = $2 AND item_id = $3"
    ))
    .bind(&p.tenant)
    .bind(&location_id)
    .bind(&item_id)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    AppState::end_read(tx);
    let row = row.ok_or_else(|| {
        Problem::not_found(format!("no position for item {item_id} at {location_id}"))
    })?;
    let etag = format!("\"{}\"", row.sequence);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok(([(header::ETAG, etag)], Json(row)).into_response())
}

#[cfg(test)]
mod tests {
    use composerp_events::Buckets;

    use super::*;

    #[test]
    fn the_bucket_columns_are_the_buckets_in_order() {
        let names: Vec<&str> = COLUMNS
            .split(',')
            .filter_map(|c| c.split_whitespace().last())
            .collect();
        assert_eq!(names[3..3 + Buckets::NAMES.len()], Buckets::NAMES);
    }
}
