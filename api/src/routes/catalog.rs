//! `/v1/items`, `/v1/locations`, `/v1/suppliers`: master data of the caller's tenant.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Postgres, QueryBuilder, postgres::PgRow};
use utoipa::{IntoParams, ToSchema};

use super::writes;
use crate::{
    AppState,
    auth::{Principal, Role},
    mask::{self, Redact},
    page::{Page, Params, Segments, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Catalog routes: reads, and the writes of [`writes`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/items", get(items))
        .route("/v1/items/{item_id}", get(item).put(writes::put_item))
        .route("/v1/locations", get(locations))
        .route(
            "/v1/locations/{location_id}",
            get(location).put(writes::put_location),
        )
        .route("/v1/suppliers", get(suppliers))
        .route(
            "/v1/suppliers/{supplier_id}",
            get(supplier).put(writes::put_supplier),
        )
}

/// An item of the item master.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Item {
    /// Item id.
    pub item_id: String,
    /// Stock keeping unit.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Category.
    pub category: Option<String>,
    /// EACH, KILOGRAM, LITRE or METRE.
    pub uom: String,
    /// Standard cost, decimal text.
    pub standard_cost: Option<String>,
    /// Sold and replenished.
    pub active: bool,
    /// Custom attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A store, warehouse or DC.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Location {
    /// Location id.
    pub location_id: String,
    /// Name.
    pub name: String,
    /// STORE, WAREHOUSE or DC.
    pub location_type: String,
    /// IANA time zone.
    pub timezone: String,
    /// In operation.
    pub active: bool,
    /// Custom attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A supplier.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Supplier {
    /// Supplier id.
    pub supplier_id: String,
    /// Name.
    pub name: String,
    /// Contact email (personal data: never logged). Masked for the viewer role
    /// (`j***@example.com`).
    pub contact_email: Option<String>,
    /// Contact phone (personal data: never logged). Masked for the viewer role (`***67`).
    pub contact_phone: Option<String>,
    /// Currency of its prices.
    pub currency: String,
    /// Orderable.
    pub active: bool,
    /// Custom attributes.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Redact for Item {
    fn redact(&mut self, _: Role) {}
}

impl Redact for Location {
    fn redact(&mut self, _: Role) {}
}

impl Redact for Supplier {
    fn redact(&mut self, role: Role) {
        mask::field(&mut self.contact_email, role, mask::email);
        mask::field(&mut self.contact_phone, role, mask::phone);
    }
}

/// Filters and page of a catalog list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogParams {
    /// Only active (true) or inactive (false) entries.
    pub active: Option<bool>,
    /// Items: only this category. Locations: only this type. Suppliers: only this currency.
    pub kind: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// How one catalog table is read.
struct Table {
    name: &'static str,
    id: &'static str,
    kind: &'static str,
    columns: &'static str,
    noun: &'static str,
}

const ITEMS: Table = Table {
    name: "catalog.items",
    id: "item_id",
    kind: "category",
    columns: "item_id, sku, name, category, uom, standard_cost::text AS standard_cost, active, \
              attributes, occurred_at AS updated_at",
    noun: "item",
};
const LOCATIONS: Table = Table {
    name: "catalog.locations",
    id: "location_id",
    kind: "location_type",
    columns: "location_id, name, location_type, timezone, active, attributes, \
              occurred_at AS updated_at",
    noun: "location",
};
const SUPPLIERS: Table = Table {
    name: "catalog.suppliers",
    id: "supplier_id",
    kind: "currency",
    columns: "supplier_id, name, contact_email, contact_phone, currency, active, attributes, \
              occurred_at AS updated_at",
    noun: "supplier",
};

/// One page of table `t`, its cursor made from each row's `id`.
async fn list<T>(
    state: &AppState,
    p: &Principal,
    t: &Table,
    q: CatalogParams,
    id: impl Fn(&T) -> String,
) -> ApiResult<Json<Page<T>>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin + Redact,
{
    require(p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<String> = decode_cursor(q.cursor.as_deref())?;
    // Only the filters given, so every variant gets its own good plan.
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {} FROM {} WHERE tenant_id = ",
        t.columns, t.name
    ));
    sql.push_bind(&p.tenant);
    if let Some(active) = q.active {
        sql.push(" AND active = ").push_bind(active);
    }
    if let Some(kind) = &q.kind {
        sql.push(format!(" AND {} = ", t.kind)).push_bind(kind);
    }
    if let Some(after) = after {
        sql.push(format!(" AND (tenant_id, {}) > (", t.id))
            .push_bind(&p.tenant)
            .push(", ")
            .push_bind(after)
            .push(")");
    }
    sql.push(format!(" ORDER BY {} LIMIT ", t.id))
        .push_bind(limit + 1);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let mut rows: Vec<T> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    rows.iter_mut().for_each(|r| r.redact(p.role));
    Ok(Json(Page::of(rows, limit, id)))
}

async fn one<T>(state: &AppState, p: &Principal, t: &Table, id: &str) -> ApiResult<Json<T>>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin + Redact,
{
    require(p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let mut row: Option<T> = sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE tenant_id = $1 AND {} = $2",
        t.columns, t.name, t.id
    ))
    .bind(&p.tenant)
    .bind(id)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    AppState::end_read(tx);
    if let Some(r) = row.as_mut() {
        r.redact(p.role);
    }
    row.map(Json)
        .ok_or_else(|| Problem::not_found(format!("no {} {id}", t.noun)))
}

/// Items, sorted by id.
#[utoipa::path(get, path = "/v1/items", tag = "catalog", params(CatalogParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Item>),
              (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json")))]
pub async fn items(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<CatalogParams>,
) -> ApiResult<Json<Page<Item>>> {
    list(&s, &p, &ITEMS, q, |r: &Item| r.item_id.clone()).await
}

/// One item.
#[utoipa::path(get, path = "/v1/items/{item_id}", tag = "catalog",
    params(("item_id" = String, Path, description = "Item")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The item", body = Item),
              (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json")))]
pub async fn item(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Item>> {
    one(&s, &p, &ITEMS, &id).await
}

/// Locations, sorted by id.
#[utoipa::path(get, path = "/v1/locations", tag = "catalog", params(CatalogParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Location>),
              (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json")))]
pub async fn locations(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<CatalogParams>,
) -> ApiResult<Json<Page<Location>>> {
    list(&s, &p, &LOCATIONS, q, |r: &Location| r.location_id.clone()).await
}

/// One location.
#[utoipa::path(get, path = "/v1/locations/{location_id}", tag = "catalog",
    params(("location_id" = String, Path, description = "Location")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The location", body = Location),
              (status = 404, description = "No such location", body = Problem, content_type = "application/problem+json")))]
pub async fn location(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Location>> {
    one(&s, &p, &LOCATIONS, &id).await
}

/// Suppliers, sorted by id.
#[utoipa::path(get, path = "/v1/suppliers", tag = "catalog", params(CatalogParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Supplier>),
              (status = 400, description = "Bad parameter", body = Problem, content_type = "application/problem+json")))]
pub async fn suppliers(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<CatalogParams>,
) -> ApiResult<Json<Page<Supplier>>> {
    list(&s, &p, &SUPPLIERS, q, |r: &Supplier| r.supplier_id.clone()).await
}

/// One supplier.
#[utoipa::path(get, path = "/v1/suppliers/{supplier_id}", tag = "catalog",
    params(("supplier_id" = String, Path, description = "Supplier")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The supplier", body = Supplier),
              (status = 404, description = "No such supplier", body = Problem, content_type = "application/problem+json")))]
pub async fn supplier(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Supplier>> {
    one(&s, &p, &SUPPLIERS, &id).await
}
