//! `/v1/positions/{location_id}/{item_id}/ledger` (stock ledger entries) and
//! `/v1/low-stock-events`.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Ledger routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/positions/{location_id}/{item_id}/ledger", get(entries))
        .route("/v1/low-stock-events", get(low_stock))
}

/// One stock ledger entry (SSLE for stores, WSLE for warehouses).
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct LedgerEntry {
    /// Entry id.
    pub event_id: Uuid,
    /// Per item-location order of application.
    pub sequence: i64,
    /// SSLE or WSLE.
    pub ledger: String,
    /// SALE, RETURN, RECEIPT, TRANSFER_OUT, TRANSFER_IN, ADJUSTMENT or WRITE_OFF.
    pub transaction_type: String,
    /// Business document, e.g. a receipt or PO number.
    pub document_ref: Option<String>,
    /// Signed change of on hand.
    pub actual_qty: i64,
    /// On hand after the entry.
    pub qty_after_transaction: i64,
    /// Moving-average unit cost after the entry, decimal text.
    pub valuation_rate: String,
    /// Stock value after the entry, decimal text.
    pub stock_value: String,
    /// Superseded by a later count (no effect).
    pub superseded: bool,
    /// Business time.
    pub occurred_at: DateTime<Utc>,
    /// Input event it came from.
    pub source_event_id: Uuid,
}

/// Time range and page of ledger entries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryParams {
    /// Entries at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Stock ledger entries of one item-location in the order they applied.
#[utoipa::path(get, path = "/v1/positions/{location_id}/{item_id}/ledger", tag = "positions",
    params(("location_id" = String, Path, description = "Location"), ("item_id" = String, Path, description = "Item"), EntryParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "One page", body = Page<LedgerEntry>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn entries(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((location_id, item_id)): Segments<(String, String)>,
    Params(q): Params<EntryParams>,
) -> ApiResult<Json<Page<LedgerEntry>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(Problem::bad_request("from is after to").at("from"));
    }
    let after: Option<i64> = decode_cursor(q.cursor.as_deref())?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<LedgerEntry> = sqlx::query_as(
        "SELECT event_id, sequence, ledger, transaction_type, document_ref, actual_qty, \
                qty_after_transaction, valuation_rate::text AS valuation_rate, \
                stock_value::text AS stock_value, superseded, occurred_at, source_event_id \
         FROM inventory.transactions \
         WHERE tenant_id = $1 AND item_id = $2 AND location_id = $3 \
           AND ($4::timestamptz IS NULL OR occurred_at >= $4) \
           AND ($5::timestamptz IS NULL OR occurred_at < $5) \
           AND ($6::bigint IS NULL OR sequence > $6) \
         ORDER BY sequence LIMIT $7",
    )
    .bind(&p.tenant)
    .bind(&item_id)
    .bind(&location_id)
    .bind(q.from)
    .bind(q.to)
    .bind(after)
    .bind(limit + 1)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| r.sequence)))
}

/// A low-stock alert.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct LowStockEvent {
    /// Alert id.
    pub event_id: Uuid,
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// Available units when it fired.
    pub available: i64,
    /// Inventory position when it fired.
    pub inventory_position: i64,
    /// Level crossed.
    pub threshold: i64,
    /// REORDER_POINT or SAFETY_STOCK.
    pub threshold_kind: String,
    /// Business time.
    pub occurred_at: DateTime<Utc>,
}

/// Filters of the low-stock list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LowStockParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Low-stock alerts of the caller's tenant, newest first.
#[utoipa::path(get, path = "/v1/low-stock-events", tag = "positions", params(LowStockParams),
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "One page", body = Page<LowStockEvent>),
        (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn low_stock(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<LowStockParams>,
) -> ApiResult<Json<Page<LowStockEvent>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(DateTime<Utc>, Uuid)> = decode_cursor(q.cursor.as_deref())?;
    let (after_time, after_id) = after.unzip();
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<LowStockEvent> = sqlx::query_as(
        "SELECT event_id, location_id, item_id, available, inventory_position, threshold, \
                threshold_kind, occurred_at \
         FROM inventory.low_stock_events \
         WHERE tenant_id = $1 \
           AND ($2::text IS NULL OR location_id = $2) \
           AND ($3::text IS NULL OR item_id = $3) \
           AND ($4::timestamptz IS NULL OR (occurred_at, event_id) < ($4, $5)) \
         ORDER BY occurred_at DESC, event_id DESC LIMIT $6",
    )
    .bind(&p.tenant)
    .bind(&q.location_id)
    .bind(&q.item_id)
    .bind(after_time)
    .bind(after_id)
    .bind(limit + 1)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| (r.occurred_at, r.event_id))))
}
